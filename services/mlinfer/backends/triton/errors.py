"""Triton's errors (tritonclient ``InferenceServerException`` / gRPC status, and the REST
pass-through's HTTP answers) -> mlinfer's.

Triton's message is kept as it is, so a client of mlinfer reads what a client of Triton would.
Failures to reach Triton at all (connection refused, reset, channel in transient failure) are
told apart from Triton's own UNAVAILABLE answers (model not ready, queue full) and get a message
that names Triton and its address.
"""

from __future__ import annotations

import orjson
from tritonclient.utils import InferenceServerException

from mlinfer.core.errors import (
    DeadlineExceededError,
    InternalError,
    InvalidInputError,
    MLInferError,
    ModelNotFoundError,
    StatusCode,
    UnavailableError,
)

# gRPC status name (as tritonclient reports it, "StatusCode.X") -> mlinfer error class.
_BY_GRPC_STATUS: dict[str, type[MLInferError]] = {
    "NOT_FOUND": ModelNotFoundError,
    "INVALID_ARGUMENT": InvalidInputError,
    "FAILED_PRECONDITION": InvalidInputError,
    "OUT_OF_RANGE": InvalidInputError,
    "UNAVAILABLE": UnavailableError,
    "DEADLINE_EXCEEDED": DeadlineExceededError,
    "INTERNAL": InternalError,
    "UNKNOWN": InternalError,
    "DATA_LOSS": InternalError,
}

# HTTP status of Triton's answer -> mlinfer error class (others: TritonError with the status).
_BY_HTTP_STATUS: dict[int, type[MLInferError]] = {
    400: InvalidInputError,
    404: ModelNotFoundError,
    500: InternalError,
    503: UnavailableError,
    504: DeadlineExceededError,
}

# Statuses mlinfer has no dedicated class for: carried as a TritonError with that status.
_OTHER_STATUS: dict[str, StatusCode] = {
    "ALREADY_EXISTS": StatusCode.ALREADY_EXISTS,
    "PERMISSION_DENIED": StatusCode.PERMISSION_DENIED,
    "UNAUTHENTICATED": StatusCode.UNAUTHENTICATED,
    "RESOURCE_EXHAUSTED": StatusCode.RESOURCE_EXHAUSTED,
    "UNIMPLEMENTED": StatusCode.UNIMPLEMENTED,
    "ABORTED": StatusCode.UNAVAILABLE,
    "CANCELLED": StatusCode.UNAVAILABLE,
}

# What gRPC core (not Triton) says when the connection itself is the problem.
_CONNECTION_MARKERS = (
    "failed to connect to all addresses",
    "connections to all backends failing",
    "connection refused",
    "connection reset",
    "socket closed",
    "broken pipe",
    "goaway",
    "channel closed",
    "channel is closed",
    "connect failed",
    "end of tcp stream",
    "dns resolution failed",
)


class TritonError(MLInferError):
    """An error Triton reported with a status mlinfer has no dedicated class for."""

    def __init__(self, message: str, status: StatusCode) -> None:
        super().__init__(message)
        self.status = status


class TritonUnavailableError(UnavailableError):
    """Triton cannot be reached (down, restarting, wrong address)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"Triton at {url} is unavailable: {reason}", retry_after_s=1.0)
        self.url = url
        self.reason = reason


def status_name(exc: InferenceServerException) -> str:
    """``NOT_FOUND`` for tritonclient's ``"StatusCode.NOT_FOUND"``; "" when it has none."""
    status = exc.status()
    if not status:
        return ""
    return str(status).rsplit(".", 1)[-1]


def is_connection_failure(exc: InferenceServerException) -> bool:
    """True when gRPC could not talk to Triton at all (as opposed to Triton answering)."""
    if status_name(exc) not in ("UNAVAILABLE", "CANCELLED", "UNKNOWN", "INTERNAL"):
        return False
    message = (exc.message() or "").lower()
    return any(marker in message for marker in _CONNECTION_MARKERS)


def from_triton(exc: InferenceServerException, url: str) -> MLInferError:
    """The mlinfer error for a tritonclient exception, keeping Triton's message."""
    message = exc.message() or str(exc)
    if is_connection_failure(exc):
        return TritonUnavailableError(url, message)
    name = status_name(exc)
    cls = _BY_GRPC_STATUS.get(name)
    if cls is not None:
        return cls(message)
    if name in _OTHER_STATUS:
        return TritonError(message, _OTHER_STATUS[name])
    # No status: tritonclient refused the call before sending it.
    return InternalError(f"Triton client error: {message}")


def from_triton_http(status: int, payload: bytes) -> MLInferError:
    """The mlinfer error for Triton's REST error answer (``{"error": "..."}``)."""
    try:
        message = str(orjson.loads(payload)["error"])
    except (orjson.JSONDecodeError, KeyError, TypeError):
        message = payload.decode(errors="replace") or f"HTTP {status}"
    cls = _BY_HTTP_STATUS.get(status)
    if cls is not None:
        return cls(message)
    try:
        return TritonError(message, StatusCode(status))
    except ValueError:  # a status mlinfer has no name for
        return InternalError(f"Triton answered HTTP {status}: {message}")
