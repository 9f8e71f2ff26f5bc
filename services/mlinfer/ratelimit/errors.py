"""The error a refused request raises: 429 / RESOURCE_EXHAUSTED with ``Retry-After``."""

from __future__ import annotations

from mlinfer.core.errors import MLInferError, StatusCode


class RateLimitedError(MLInferError):
    """Too many requests for a client or model; ``retry_after_s`` says when to come back.

    REST turns ``retry_after_s`` into ``Retry-After`` (whole seconds, at least 1); gRPC
    can send it as trailing metadata.
    """

    status = StatusCode.RESOURCE_EXHAUSTED

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        super().__init__(message, retry_after_s=retry_after_s)
