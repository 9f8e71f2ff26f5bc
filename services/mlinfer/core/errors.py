"""One error hierarchy for every transport.

Each error carries a :class:`StatusCode`; REST maps it to an HTTP status and gRPC to a
gRPC status code, each in exactly one place (``gateway.errors`` / ``grpc.errors``).
Messages follow Triton's wording where Triton has one, so clients see the same text.
"""

from __future__ import annotations

import enum
import math


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


# The header (REST) and metadata key (gRPC) every inference answer carries its id in: the
# client's own id when it sent one, else one the server made; the access log has the same.
REQUEST_ID_HEADER = "X-Request-ID"


class MLInferError(Exception):
    """Base of every error a client can be shown.

    Besides its status an error may carry the headers that go with it: ``Retry-After``
    (overload, rate limits: when to come back) and ``WWW-Authenticate`` (401/403: the
    challenge, RFC 6750). Transports send them from :meth:`headers`, never by probing.
    """

    status = StatusCode.INTERNAL

    def __init__(
        self,
        message: str,
        *,
        retry_after_s: float | None = None,
        www_authenticate: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after_s = retry_after_s
        self.www_authenticate = www_authenticate
        self.request_id: str | None = None  # set by the transport that answers it

    def __str__(self) -> str:
        return self.message

    @property
    def retry_after(self) -> str | None:
        """``Retry-After`` in whole seconds, at least 1 (clients treat 0 as "now")."""
        if self.retry_after_s is None:
            return None
        return str(max(1, math.ceil(self.retry_after_s)))

    def headers(self) -> dict[str, str]:
        """The response headers this error carries (HTTP names; gRPC lower-cases them)."""
        headers: dict[str, str] = {}
        if self.retry_after is not None:
            headers["Retry-After"] = self.retry_after
        if self.www_authenticate:
            headers["WWW-Authenticate"] = self.www_authenticate
        if self.request_id:
            headers[REQUEST_ID_HEADER] = self.request_id
        return headers


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
