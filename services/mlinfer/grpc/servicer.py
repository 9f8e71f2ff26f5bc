"""``inference.GRPCInferenceService`` over the DataPlane: a thin adapter, like REST."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc
from opentelemetry import trace
from tritonclient.grpc import service_pb2 as pb
from tritonclient.grpc import service_pb2_grpc

from mlinfer.core.dataplane import CACHE_HIT_PARAMETER, DataPlane
from mlinfer.core.errors import InvalidInputError, MLInferError
from mlinfer.core.settings import Settings
from mlinfer.core.types import InferRequest, InferResponse
from mlinfer.grpc import converters
from mlinfer.grpc.errors import grpc_code, trailing_metadata
from mlinfer.observability.logs import ACCESS_LOGGER, log_request
from mlinfer.observability.tracing import server_span

SERVICE = "inference.GRPCInferenceService"
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
        self, dataplane: DataPlane, settings: Settings, tracer: trace.Tracer | None = None
    ) -> None:
        self._dp = dataplane
        self._tracer = tracer or trace.NoOpTracer()
        self._access_log = settings.access_log
        self._access = logging.getLogger(ACCESS_LOGGER)

    @_mapped_errors
    async def ServerLive(
        self, request: pb.ServerLiveRequest, context: Any
    ) -> pb.ServerLiveResponse:
        return pb.ServerLiveResponse(live=await self._dp.live())

    @_mapped_errors
    async def ServerReady(
        self, request: pb.ServerReadyRequest, context: Any
    ) -> pb.ServerReadyResponse:
        return pb.ServerReadyResponse(ready=await self._dp.ready())

    @_mapped_errors
    async def ModelReady(
        self, request: pb.ModelReadyRequest, context: Any
    ) -> pb.ModelReadyResponse:
        return pb.ModelReadyResponse(
            ready=await self._dp.model_ready(request.name, request.version)
        )

    @_mapped_errors
    async def ServerMetadata(
        self, request: pb.ServerMetadataRequest, context: Any
    ) -> pb.ServerMetadataResponse:
        return pb.ServerMetadataResponse(**self._dp.metadata())

    @_mapped_errors
    async def ModelMetadata(
        self, request: pb.ModelMetadataRequest, context: Any
    ) -> pb.ModelMetadataResponse:
        meta = await self._dp.model_metadata(request.name, request.version)
        return converters.metadata_to_proto(meta)

    @_mapped_errors
    async def ModelConfig(
        self, request: pb.ModelConfigRequest, context: Any
    ) -> pb.ModelConfigResponse:
        return pb.ModelConfigResponse(
            config=await self._dp.model_config(request.name, request.version)
        )

    @_mapped_errors
    async def ModelStatistics(
        self, request: pb.ModelStatisticsRequest, context: Any
    ) -> pb.ModelStatisticsResponse:
        stats = await self._dp.statistics(request.name, request.version)
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
            request = converters.request_from_proto(message)
            headers = _trace_headers(context)
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
        return converters.index_to_proto(await self._dp.repository_index(request.ready))

    @_mapped_errors
    async def RepositoryModelLoad(
        self, request: pb.RepositoryModelLoadRequest, context: Any
    ) -> pb.RepositoryModelLoadResponse:
        params = converters.parameters_to_dict(request.parameters)
        unknown = sorted(set(params) - {"config"})
        if unknown:
            raise InvalidInputError(
                f"unsupported load parameter(s) {unknown}: only 'config' is supported"
            )
        override = params.get("config")
        if override is not None and not isinstance(override, str):
            raise InvalidInputError("load parameter 'config' must be a JSON string")
        await self._dp.load_model(request.model_name, override)
        return pb.RepositoryModelLoadResponse()

    @_mapped_errors
    async def RepositoryModelUnload(
        self, request: pb.RepositoryModelUnloadRequest, context: Any
    ) -> pb.RepositoryModelUnloadResponse:
        await self._dp.unload_model(request.model_name)
        return pb.RepositoryModelUnloadResponse()


def _identity(context: Any) -> str | None:
    """Set by the auth interceptor when authentication is on."""
    return getattr(context, "mlinfer_identity", None)


def _trace_headers(context: Any) -> dict[str, str]:
    metadata = context.invocation_metadata() or ()
    return {k: v for k, v in metadata if k in ("traceparent", "tracestate") and isinstance(v, str)}
