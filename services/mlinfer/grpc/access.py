"""Credentials for the gRPC services that are not ours: ``grpc.health.v1`` and reflection.

Their servicers come from grpcio and check nothing; when closed (``MLINFER_AUTH_OPEN_HEALTH``
/ ``MLINFER_AUTH_OPEN_REFLECTION`` false) this interceptor asks for ``models:read`` before a
call reaches them, with the status and message our own methods would give.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from mlinfer.core.errors import MLInferError
from mlinfer.grpc.errors import grpc_code
from mlinfer.transport.policy import Caller, RequestPolicy

HEALTH_SERVICE = "grpc.health.v1.Health"
REFLECTION_SERVICES = (
    "grpc.reflection.v1alpha.ServerReflection",
    "grpc.reflection.v1.ServerReflection",
)
Check = Callable[[RequestPolicy, Caller], Awaitable[object]]


class ClosedServicesInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    def __init__(self, policy: RequestPolicy) -> None:
        self._checks: dict[str, Check] = {}
        if not policy.open_health:
            self._checks[HEALTH_SERVICE] = RequestPolicy.authorize_health
        if not policy.open_reflection:
            for service in REFLECTION_SERVICES:
                self._checks[service] = RequestPolicy.authorize_reflection
        self._policy = policy

    @property
    def needed(self) -> bool:
        return bool(self._checks)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        service = details.method.lstrip("/").split("/", 1)[0]
        check = self._checks.get(service)
        if handler is None or check is None:
            return handler
        caller = Caller.from_metadata(details.invocation_metadata or (), None)
        try:
            await check(self._policy, caller)
        except MLInferError as exc:
            return _refusal(handler, exc)
        return handler


def _refusal(handler: grpc.RpcMethodHandler, exc: MLInferError) -> grpc.RpcMethodHandler:
    """A handler of ``handler``'s kind that answers ``exc``'s status and nothing else."""

    async def refuse(_: Any, context: grpc.aio.ServicerContext) -> None:
        await context.abort(grpc_code(exc), exc.message)

    serializers = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(refuse, **serializers)
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(refuse, **serializers)
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(refuse, **serializers)
    return grpc.stream_stream_rpc_method_handler(refuse, **serializers)
