"""``inference.GRPCInferenceService`` over the DataPlane: a thin adapter, like REST."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc
from opentelemetry import trace
from tritonclient.grpc import service_pb2 as pb
from tritonclient.grpc import service_pb2_grpc

from mlinfer.auth.guard import AccessGuard, audited
from mlinfer.auth.identity import Identity, Scope
from mlinfer.core.dataplane import CACHE_HIT_PARAMETER, DataPlane
from mlinfer.core.errors import MLInferError
from mlinfer.core.settings import Settings
from mlinfer.core.types import InferRequest, InferResponse
from mlinfer.grpc import converters
from mlinfer.grpc.errors import grpc_code, trailing_metadata
from mlinfer.observability.logs import ACCESS_LOGGER, log_request
from mlinfer.observability.tracing import server_span, trace_headers

SERVICE = "inference.GRPCInferenceService"
# The caller's identity for this call's access-log line (per task, so per call).
_IDENTITY: contextvars.ContextVar[str | None] = contextvars.ContextVar("identity", default=None)
Req = TypeVar("Req")
Resp = TypeVar("Resp")
Handler = Callable[[Any, Req, grpc.aio.ServicerContext], Awaitable[Resp]]


def _mapped_errors(handler: Handler[Req, Resp]) -> Handler[Req, Resp]:
    """Turn mlinfer errors into the mapped gRPC status with the same message as REST."""

    @functools.wraps(handler)
    async def wrapper(self: Any, request: Req, context: grpc.aio.ServicerContext) -> Resp:
        try:
            return await handler(self, request, context)
        except MLInferError as exc:
            context.set_trailing_metadata(trailing_metadata(exc))
            await context.abort(grpc_code(exc), exc.message)
            raise AssertionError("unreachable: abort raises") from exc

    return wrapper


class InferenceServicer(service_pb2_grpc.GRPCInferenceServiceServicer):  # type: ignore[misc]
    def __init__(
        self, dataplane: DataPlane, settings: Settings, tracer: trace.Tracer, guard: AccessGuard
    ) -> None:
        self._dp = dataplane
        self._tracer = tracer
        self._guard = guard
        self._open_health = settings.auth_open_health
        self._access_log = settings.access_log
        self._access = logging.getLogger(ACCESS_LOGGER)

    async def _allow(self, context: Any, action: Scope, model: str | None = None) -> Identity:
        metadata = dict(context.invocation_metadata() or ())
        identity = await self._guard.check(
            metadata.get("authorization"),
            metadata.get("x-api-key"),
            action,
            model,
            peer=context.peer(),
        )
        _IDENTITY.set(identity.subject)
        return identity

    async def _allow_health(self, context: Any) -> None:
        if not self._open_health:
            await self._allow(context, Scope.MODELS_READ)

    @_mapped_errors
    async def ServerLive(
        self, request: pb.ServerLiveRequest, context: Any
    ) -> pb.ServerLiveResponse:
        await self._allow_health(context)
        return pb.ServerLiveResponse(live=await self._dp.live())

    @_mapped_errors
    async def ServerReady(
        self, request: pb.ServerReadyRequest, context: Any
    ) -> pb.ServerReadyResponse:
        await self._allow_health(context)
        return pb.ServerReadyResponse(ready=await self._dp.ready())

    @_mapped_errors
    async def ModelReady(
        self, request: pb.ModelReadyRequest, context: Any
    ) -> pb.ModelReadyResponse:
        await self._allow(context, Scope.MODELS_READ, request.name)
        return pb.ModelReadyResponse(
            ready=await self._dp.model_ready(request.name, request.version)
        )

    @_mapped_errors
    async def ServerMetadata(
        self, request: pb.ServerMetadataRequest, context: Any
    ) -> pb.ServerMetadataResponse:
        await self._allow_health(context)
        return pb.ServerMetadataResponse(**self._dp.metadata())

    @_mapped_errors
    async def ModelMetadata(
        self, request: pb.ModelMetadataRequest, context: Any
    ) -> pb.ModelMetadataResponse:
        await self._allow(context, Scope.MODELS_READ, request.name)
        meta = await self._dp.model_metadata(request.name, request.version)
        return converters.metadata_to_proto(meta)

    @_mapped_errors
    async def ModelConfig(
        self, request: pb.ModelConfigRequest, context: Any
    ) -> pb.ModelConfigResponse:
        await self._allow(context, Scope.MODELS_READ, request.name)
        return pb.ModelConfigResponse(
            config=await self._dp.model_config(request.name, request.version)
        )

    @_mapped_errors
    async def ModelStatistics(
        self, request: pb.ModelStatisticsRequest, context: Any
    ) -> pb.ModelStatisticsResponse:
        identity = await self._allow(context, Scope.MODELS_READ, request.name or None)
        stats = await self._dp.statistics(request.name, request.version)
        visible = set(identity.visible_models(s["name"] for s in stats["model_stats"]))
        stats["model_stats"] = [s for s in stats["model_stats"] if s["name"] in visible]
        return converters.statistics_to_proto(stats)

    @_mapped_errors
    async def ModelInfer(
        self, request: pb.ModelInferRequest, context: Any
    ) -> pb.ModelInferResponse:
        return converters.response_to_proto(await self._infer(request, context))

    async def _infer(self, message: pb.ModelInferRequest, context: Any) -> InferResponse:
        """One inference with its access-log line; shared by unary and streaming calls."""
        start = time.perf_counter()
        request: InferRequest | None = None
        response: InferResponse | None = None
        status = "OK"
        try:
            identity = await self._allow(context, Scope.INFER, message.model_name)
            request = converters.request_from_proto(message)
            headers = request.trace_headers = _trace_headers(context)
            request.route_headers, request.subject = _metadata(context), identity.subject
            with server_span(self._tracer, f"{SERVICE}/ModelInfer", headers, "grpc"):
                response = await self._dp.infer(request)
            return response
        except MLInferError as exc:
            status = grpc_code(exc).name
            raise
        finally:
            if self._access_log:
                log_request(
                    self._access,
                    protocol="grpc",
                    request_id=message.id or None,
                    model=message.model_name,
                    version=response.model_version if response else message.model_version or None,
                    status=status,
                    latency_ms=round((time.perf_counter() - start) * 1000, 3),
                    cache_hit=bool(response and response.parameters.get(CACHE_HIT_PARAMETER)),
                    priority=request.priority if request else None,
                    identity=_identity(context),
                )

    async def ModelStreamInfer(
        self, request_iterator: AsyncIterator[pb.ModelInferRequest], context: Any
    ) -> None:
        """Requests run concurrently; each response (or error) is written when it is ready."""
        write_lock = asyncio.Lock()
        tasks: set[asyncio.Task[None]] = set()

        async def handle(message: pb.ModelInferRequest) -> None:
            try:
                reply = pb.ModelStreamInferResponse(
                    infer_response=converters.response_to_proto(await self._infer(message, context))
                )
            except Exception as exc:
                # Triton reports per-request stream errors in-band and keeps the stream open.
                message_text = (
                    exc.message if isinstance(exc, MLInferError) else (f"internal error: {exc}")
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
        identity = await self._allow(context, Scope.MODELS_READ)
        rows = await self._dp.repository_index(request.ready)
        visible = set(identity.visible_models(r.name for r in rows))
        return converters.index_to_proto([r for r in rows if r.name in visible])

    @_mapped_errors
    async def RepositoryModelLoad(
        self, request: pb.RepositoryModelLoadRequest, context: Any
    ) -> pb.RepositoryModelLoadResponse:
        identity = await self._allow(context, Scope.MODELS_ADMIN, request.model_name)
        params = converters.parameters_to_dict(request.parameters)
        async with audited(self._guard, identity, "load", request.model_name):
            await self._dp.load_model(request.model_name, params)
        return pb.RepositoryModelLoadResponse()

    @_mapped_errors
    async def RepositoryModelUnload(
        self, request: pb.RepositoryModelUnloadRequest, context: Any
    ) -> pb.RepositoryModelUnloadResponse:
        identity = await self._allow(context, Scope.MODELS_ADMIN, request.model_name)
        async with audited(self._guard, identity, "unload", request.model_name):
            await self._dp.unload_model(request.model_name)
        return pb.RepositoryModelUnloadResponse()


def _identity(context: Any) -> str | None:
    return _IDENTITY.get()


def _metadata(context: Any) -> dict[str, str]:
    return {k: v for k, v in context.invocation_metadata() or () if isinstance(v, str)}


def _trace_headers(context: Any) -> dict[str, str]:
    metadata = {k: v for k, v in context.invocation_metadata() or () if isinstance(v, str)}
    return trace_headers(metadata)
