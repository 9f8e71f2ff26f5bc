"""mlinfer errors -> gRPC status (the one place this mapping lives for gRPC)."""

from __future__ import annotations

import grpc

from mlinfer.core.errors import MLInferError, StatusCode

GRPC_CODES: dict[StatusCode, grpc.StatusCode] = {
    StatusCode.INVALID_ARGUMENT: grpc.StatusCode.INVALID_ARGUMENT,
    StatusCode.UNAUTHENTICATED: grpc.StatusCode.UNAUTHENTICATED,
    StatusCode.PERMISSION_DENIED: grpc.StatusCode.PERMISSION_DENIED,
    StatusCode.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    StatusCode.ALREADY_EXISTS: grpc.StatusCode.ALREADY_EXISTS,
    StatusCode.PAYLOAD_TOO_LARGE: grpc.StatusCode.RESOURCE_EXHAUSTED,
    StatusCode.UNSUPPORTED_MEDIA: grpc.StatusCode.INVALID_ARGUMENT,
    StatusCode.RESOURCE_EXHAUSTED: grpc.StatusCode.RESOURCE_EXHAUSTED,
    StatusCode.INTERNAL: grpc.StatusCode.INTERNAL,
    StatusCode.UNIMPLEMENTED: grpc.StatusCode.UNIMPLEMENTED,
    StatusCode.UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
    StatusCode.DEADLINE_EXCEEDED: grpc.StatusCode.DEADLINE_EXCEEDED,
}


def grpc_code(exc: MLInferError) -> grpc.StatusCode:
    return GRPC_CODES[exc.status]


def trailing_metadata(exc: MLInferError) -> tuple[tuple[str, str], ...]:
    # Not WWW-Authenticate: gRPC clients have no use for an HTTP authentication challenge.
    return tuple(
        (name.lower(), value) for name, value in exc.headers().items() if name != "WWW-Authenticate"
    )
