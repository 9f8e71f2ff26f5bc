"""``inference.GRPCInferenceService`` over the DataPlane: a thin adapter, like REST."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc
from opentelemetry import trace
from tritonclient.grpc import service_pb2 as pb
from tritonclient.grpc import service_pb2_grpc

from mlinfer.auth.guard import audited
from mlinfer.auth.identity import Scope
from mlinfer.core import grpc_messages
from mlinfer.core.errors import REQUEST_ID_HEADER, MLInferError
from mlinfer.core.types import InferResponse
from mlinfer.dataplane import DataPlane
from mlinfer.grpc.errors import grpc_code, trailing_metadata
from mlinfer.observability.tracing import trace_headers
from mlinfer.settings import Settings
from mlinfer.transport.access_log import AccessLog, SpanInfo, StatusNames
from mlinfer.transport.failures import report_unexpected
from mlinfer.transport.policy import Caller, RequestPolicy
from mlinfer.transport.visibility import visible, visible_statistics

SERVICE = "inference.GRPCInferenceService"
GRPC_STATUSES = StatusNames(
    ok="OK",
    internal=grpc.StatusCode.INTERNAL.name,
    cancelled=grpc.StatusCode.CANCELLED.name,
    error=lambda exc: grpc_code(exc).name,
    span_attribute="rpc.grpc.status_code",
    span_value=lambda name: int(grpc.StatusCode[str(name)].value[0]),
)
_RPC_ATTRIBUTES = {"rpc.system": "grpc", "rpc.service": SERVICE}
Req = TypeVar("Req")
Resp = TypeVar("Resp")
Handler = Callable[[Any, Req, grpc.aio.ServicerContext], Awaitable[Resp]]


def _mapped_errors(handler: Handler[Req, Resp]) -> Handler[Req, Resp]:
    """mlinfer errors -> their mapped status with the same message as REST; anything else
    -> INTERNAL, logged with its traceback (grpc.aio would answer UNKNOWN, unlogged)."""

    @functools.wraps(handler)
    async def wrapper(self: Any, request: Req, context: grpc.aio.ServicerContext) -> Resp:
        try:
            return await handler(self, request, context)
        except MLInferError as exc:
            context.set_trailing_metadata(trailing_metadata(exc))
            await context.abort(grpc_code(exc), exc.message)
            raise AssertionError("unreachable: abort raises") from exc
        except grpc.aio.AbortError:
            raise  # the handler already chose a status
        except Exception as exc:
            message = report_unexpected(exc, f"{SERVICE}/{handler.__name__}")
            await context.abort(grpc.StatusCode.INTERNAL, message)
            raise AssertionError("unreachable: abort raises") from exc

    return wrapper


def _caller(context: Any) -> Caller:
    return Caller.from_metadata(context.invocation_metadata() or (), context.peer())


class InferenceServicer(service_pb2_grpc.GRPCInferenceServiceServicer):  # type: ignore[misc]
    def __init__(
        self, dataplane: DataPlane, settings: Settings, tracer: trace.Tracer, policy: RequestPolicy
    ) -> None:
        self._dp = dataplane
        self._tracer = tracer
        self._policy = policy
        self._access = AccessLog.from_settings("grpc", GRPC_STATUSES, settings)

    @_mapped_errors
    async def ServerLive(
        self, request: pb.ServerLiveRequest, context: Any
    ) -> pb.ServerLiveResponse:
        await self._policy.authorize_health(_caller(context))
        return pb.ServerLiveResponse(live=await self._dp.live())

    @_mapped_errors
    async def ServerReady(
        self, request: pb.ServerReadyRequest, context: Any
    ) -> pb.ServerReadyResponse:
        await self._policy.authorize_health(_caller(context))
        return pb.ServerReadyResponse(ready=await self._dp.ready())

    @_mapped_errors
    async def ModelReady(
        self, request: pb.ModelReadyRequest, context: Any
    ) -> pb.ModelReadyResponse:
        await self._policy.authorize(_caller(context), Scope.MODELS_READ, request.name)
        return pb.ModelReadyResponse(
            ready=await self._dp.model_ready(request.name, request.version)
        )

    @_mapped_errors
    async def ServerMetadata(
        self, request: pb.ServerMetadataRequest, context: Any
    ) -> pb.ServerMetadataResponse:
        await self._policy.authorize_health(_caller(context))
        return pb.ServerMetadataResponse(**self._dp.metadata())

    @_mapped_errors
    async def ModelMetadata(
        self, request: pb.ModelMetadataRequest, context: Any
    ) -> pb.ModelMetadataResponse:
        await self._policy.authorize(_caller(context), Scope.MODELS_READ, request.name)
        return await self._dp.model_metadata(request.name, request.version)

    @_mapped_errors
    async def ModelConfig(
        self, request: pb.ModelConfigRequest, context: Any
    ) -> pb.ModelConfigResponse:
        await self._policy.authorize(_caller(context), Scope.MODELS_READ, request.name)
        return pb.ModelConfigResponse(
            config=await self._dp.model_config(request.name, request.version)
        )

    @_mapped_errors
    async def ModelStatistics(
        self, request: pb.ModelStatisticsRequest, context: Any
    ) -> pb.ModelStatisticsResponse:
        identity = await self._policy.authorize(
            _caller(context), Scope.MODELS_READ, request.name or None
        )
        stats = await self._dp.statistics(request.name, request.version)
        return visible_statistics(identity, stats)

    @_mapped_errors
    async def ModelInfer(
        self, request: pb.ModelInferRequest, context: Any
    ) -> pb.ModelInferResponse:
        return _answer(await self._infer(request, context))

    async def _infer(
        self, message: pb.ModelInferRequest, context: Any, method: str = "ModelInfer"
    ) -> InferResponse:
        """One inference with its span and access-log line; shared by unary and streaming
        calls. A unary answer carries its request id in the ``x-request-id`` trailer."""
        headers = _trace_headers(context)
        span = SpanInfo(f"{SERVICE}/{method}", {**_RPC_ATTRIBUTES, "rpc.method": method})
        with self._access.entry(
            self._tracer, span, headers, message.model_name, message.model_version, message.id
        ) as entry:
            identity = await self._policy.authorize(
                _caller(context), Scope.INFER, message.model_name
            )
            entry.identity = identity.subject
            entry.request = request = grpc_messages.request_from_proto(message)
            request.trace_headers = headers
            request.route_headers, request.subject = _metadata(context), identity.subject
            request.grpc_message = message  # valid once decoded: a backend may forward it
            remaining = context.time_remaining()  # None: the client set no deadline
            if remaining is not None:
                request.deadline = time.monotonic() + remaining
            entry.response = response = await self._dp.infer(request)
            if method == "ModelInfer":
                context.set_trailing_metadata(((REQUEST_ID_HEADER.lower(), entry.request_id),))
            return response

    async def ModelStreamInfer(
        self, request_iterator: AsyncIterator[pb.ModelInferRequest], context: Any
    ) -> None:
        """Requests run concurrently; each response (or error) is written when it is ready."""
        write_lock = asyncio.Lock()
        tasks: set[asyncio.Task[None]] = set()

        async def handle(message: pb.ModelInferRequest) -> None:
            try:
                response = await self._infer(message, context, "ModelStreamInfer")
                reply = pb.ModelStreamInferResponse(infer_response=_answer(response))
            except Exception as exc:
                # Triton reports per-request stream errors in-band and keeps the stream open.
                message_text = (
                    exc.message
                    if isinstance(exc, MLInferError)
                    else report_unexpected(exc, f"{SERVICE}/ModelStreamInfer")
                )
                reply = pb.ModelStreamInferResponse(
                    error_message=message_text,
                    infer_response=pb.ModelInferResponse(
                        model_name=message.model_name,
                        model_version=message.model_version,
                        id=message.id,
                    ),
                )
            async with write_lock:
                await context.write(reply)

        async for message in request_iterator:
            task = asyncio.create_task(handle(message))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.gather(*tasks)

    @_mapped_errors
    async def RepositoryIndex(
        self, request: pb.RepositoryIndexRequest, context: Any
    ) -> pb.RepositoryIndexResponse:
        identity = await self._policy.authorize(_caller(context), Scope.MODELS_READ)
        rows = await self._dp.repository_index(request.ready)
        return grpc_messages.index_to_proto(visible(identity, rows, lambda r: r.name))

    @_mapped_errors
    async def RepositoryModelLoad(
        self, request: pb.RepositoryModelLoadRequest, context: Any
    ) -> pb.RepositoryModelLoadResponse:
        identity = await self._policy.authorize(
            _caller(context), Scope.MODELS_ADMIN, request.model_name
        )
        params = grpc_messages.parameters_to_dict(request.parameters)
        async with audited(self._policy.guard, identity, "load", request.model_name):
            await self._dp.load_model(request.model_name, params)
        return pb.RepositoryModelLoadResponse()

    @_mapped_errors
    async def RepositoryModelUnload(
        self, request: pb.RepositoryModelUnloadRequest, context: Any
    ) -> pb.RepositoryModelUnloadResponse:
        identity = await self._policy.authorize(
            _caller(context), Scope.MODELS_ADMIN, request.model_name
        )
        async with audited(self._policy.guard, identity, "unload", request.model_name):
            await self._dp.unload_model(request.model_name)
        return pb.RepositoryModelUnloadResponse()


def _answer(response: InferResponse) -> pb.ModelInferResponse:
    """The message a forwarding backend got back as it is, else the response encoded."""
    if response.grpc_message is not None:
        return response.grpc_message
    return grpc_messages.response_to_proto(response)


def _metadata(context: Any) -> dict[str, str]:
    return {k: v for k, v in context.invocation_metadata() or () if isinstance(v, str)}


def _trace_headers(context: Any) -> dict[str, str]:
    return trace_headers(_metadata(context))
