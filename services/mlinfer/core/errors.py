"""One error hierarchy for every transport.

Each error carries a :class:`StatusCode`; REST maps it to an HTTP status and gRPC to a
gRPC status code, each in exactly one place (``gateway.errors`` / ``grpc.errors``).
Messages follow Triton's wording where Triton has one, so clients see the same text.
"""

from __future__ import annotations

import enum


class StatusCode(enum.Enum):
    """Protocol-neutral status; values are the HTTP status codes."""

    INVALID_ARGUMENT = 400
    UNAUTHENTICATED = 401
    PERMISSION_DENIED = 403
    NOT_FOUND = 404
    ALREADY_EXISTS = 409
    PAYLOAD_TOO_LARGE = 413
    UNSUPPORTED_MEDIA = 415
    RESOURCE_EXHAUSTED = 429
    INTERNAL = 500
    UNIMPLEMENTED = 501
    UNAVAILABLE = 503
    DEADLINE_EXCEEDED = 504


class MLInferError(Exception):
    """Base of every error a client can be shown."""

    status = StatusCode.INTERNAL

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after_s = retry_after_s

    def __str__(self) -> str:
        return self.message


class InvalidInputError(MLInferError):
    status = StatusCode.INVALID_ARGUMENT


class ModelNotFoundError(MLInferError):
    status = StatusCode.NOT_FOUND


class ModelNotReadyError(MLInferError):
    """A version that is loading or draining for an unload: retry shortly."""

    status = StatusCode.UNAVAILABLE


class ModelLoadError(MLInferError):
    """A model (or one of its versions) failed to load; the message names the cause."""

    status = StatusCode.INVALID_ARGUMENT


class UnsupportedError(MLInferError):
    status = StatusCode.INVALID_ARGUMENT


class PayloadTooLargeError(MLInferError):
    status = StatusCode.PAYLOAD_TOO_LARGE


class UnavailableError(MLInferError):
    """Overload, queue full, backend down: the client may retry later."""

    status = StatusCode.UNAVAILABLE


class DeadlineExceededError(MLInferError):
    status = StatusCode.DEADLINE_EXCEEDED


class OperationNotAllowedError(MLInferError):
    status = StatusCode.INVALID_ARGUMENT


class InternalError(MLInferError):
    status = StatusCode.INTERNAL
