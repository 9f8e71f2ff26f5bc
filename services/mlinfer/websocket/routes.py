"""The stream endpoints; :meth:`StreamRoutes.router` mounts them on the REST app."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from fastapi import APIRouter
from opentelemetry import trace
from starlette.websockets import WebSocket

from mlinfer.auth.identity import Scope
from mlinfer.core.errors import InvalidInputError, MLInferError
from mlinfer.core.model_spec import ModelSpec
from mlinfer.dataplane import DataPlane
from mlinfer.imaging.decode import DecodeLimits
from mlinfer.imaging.pipeline import ImagePipeline
from mlinfer.listeners.websocket_settings import FlowPolicy
from mlinfer.observability.metrics import GatewayMetrics
from mlinfer.settings import Settings
from mlinfer.transport.access_log import AccessEntry, AccessLog
from mlinfer.transport.policy import RequestPolicy
from mlinfer.websocket.calls import FRAME_STATUSES, PROTOCOL, StreamCall
from mlinfer.websocket.frames import (
    Frame,
    Message,
    decode_tensor_frame,
    encode_tensor_answer,
    json_answer,
)
from mlinfer.websocket.handshake import flow_policy, handshake_caller, refuse
from mlinfer.websocket.session import FrameHandler, StreamSession

TENSOR_ROUTE = "/v2/models/{model}/infer/ws"
TENSOR_VERSION_ROUTE = "/v2/models/{model}/versions/{version}/infer/ws"
IMAGE_ROUTE = "/v2/models/{model}/infer/image/ws"
IMAGE_VERSION_ROUTE = "/v2/models/{model}/versions/{version}/infer/image/ws"


class StreamRoutes:
    def __init__(
        self,
        dataplane: DataPlane,
        settings: Settings,
        tracer: trace.Tracer,
        policy: RequestPolicy,
        metrics: GatewayMetrics,
    ) -> None:
        self._dp = dataplane
        self._settings = settings.websocket
        self._tracer = tracer
        self._policy = policy
        self._metrics = metrics
        self._access = AccessLog.from_settings(PROTOCOL, FRAME_STATUSES, settings)
        self._limits = DecodeLimits(settings.image.max_bytes, settings.image.max_pixels)
        self.open_streams = 0  # streams being served now (a gauge for tests and operators)

    def router(self) -> APIRouter:
        router = APIRouter()
        for path in (TENSOR_ROUTE, TENSOR_VERSION_ROUTE.replace("{version}", "{version:int}")):
            router.add_api_websocket_route(path, self.tensors)
        for path in (IMAGE_ROUTE, IMAGE_VERSION_ROUTE.replace("{version}", "{version:int}")):
            router.add_api_websocket_route(path, self.images)
        return router

    async def tensors(self, websocket: WebSocket, model: str, version: int | None = None) -> None:
        """Tensor frames (JSON or binary tensor layout) in, inference answers out."""
        route = TENSOR_ROUTE if version is None else TENSOR_VERSION_ROUTE
        opened = await self._open(websocket, route, model, version)
        if opened is None:
            return
        call, _, policy = opened

        async def body(frame: Frame, entry: AccessEntry, fields: dict[str, int]) -> Message:
            entry.request = request = decode_tensor_frame(model, call.version, frame.data)
            entry.response = response = await self._dp.infer(request)
            return encode_tensor_answer(response, request, fields)

        await self._serve(websocket, policy, lambda f, c: call.frame(f, c, body))

    async def images(self, websocket: WebSocket, model: str, version: int | None = None) -> None:
        """JPEG/PNG frames in, the model's declared pre/post-processing, JSON results out."""
        route = IMAGE_ROUTE if version is None else IMAGE_VERSION_ROUTE
        try:
            top_k = _optional_int(websocket, "top_k")
            priority = _optional_int(websocket, "priority") or 0
        except MLInferError as exc:
            await refuse(websocket, exc)
            return
        opened = await self._open(websocket, route, model, version, image=True)
        if opened is None:
            return
        call, spec, policy = opened
        pipeline = self._pipeline(spec)

        async def body(frame: Frame, entry: AccessEntry, fields: dict[str, int]) -> Message:
            if not isinstance(frame.data, bytes) or not frame.data:
                raise InvalidInputError("image streams take binary frames holding a JPEG or PNG")
            start = time.perf_counter()
            prepared = await asyncio.to_thread(pipeline.prepare, frame.data)
            entry.request = request = pipeline.request(
                prepared, model_version=call.version, priority=priority
            )
            entry.response = response = await self._dp.infer(request)
            result: dict[str, Any] = pipeline.interpret(response, prepared, top_k=top_k)
            result["latency_ms"] = round((time.perf_counter() - start) * 1000, 3)
            return json_answer({**fields, **result})

        await self._serve(websocket, policy, lambda f, c: call.frame(f, c, body))

    def _pipeline(self, spec: ModelSpec) -> ImagePipeline:
        # the same per-version pipeline as REST /infer/image (dropped with the version)
        limits = self._limits
        return spec.derived("image_pipeline", lambda s: ImagePipeline.from_spec(s, limits))

    async def _open(
        self,
        websocket: WebSocket,
        route: str,
        model: str,
        version: int | None,
        *,
        image: bool = False,
    ) -> tuple[StreamCall, ModelSpec, FlowPolicy] | None:
        """Authorize the handshake and pin the version, or refuse it (None); an image stream
        is refused too when the model declares no image processing."""
        caller, subprotocol = handshake_caller(websocket)
        try:
            await self._policy.authorize(caller, Scope.INFER, model)
            policy = flow_policy(websocket, self._settings.default_policy)
            wanted = "" if version is None else str(version)
            spec, pinned = await self._dp.model_version(model, wanted)
            if image:
                self._pipeline(spec)
        except MLInferError as exc:
            self._metrics.requests.labels(PROTOCOL, route, str(exc.status.value)).inc()
            await refuse(websocket, exc)
            return None
        await websocket.accept(subprotocol=subprotocol)
        call = StreamCall(
            policy=self._policy,
            caller=caller,
            access=self._access,
            tracer=self._tracer,
            metrics=self._metrics,
            headers=websocket.headers,
            route=route,
            stream_id=uuid.uuid4().hex[:16],
            model=model,
            version=pinned,
        )
        return call, spec, policy

    async def _serve(self, websocket: WebSocket, policy: FlowPolicy, handler: FrameHandler) -> None:
        settings = self._settings
        session = StreamSession(
            websocket,
            handler,
            policy=policy,
            max_in_flight=settings.max_in_flight,
            max_waiting=settings.max_waiting,
            idle_seconds=settings.idle_seconds,
        )
        self.open_streams += 1
        try:
            await session.run()
        finally:
            self.open_streams -= 1


def _optional_int(websocket: WebSocket, name: str) -> int | None:
    raw = websocket.query_params.get(name)
    if raw is None:
        return None
    if not raw.isdigit():
        raise InvalidInputError(f"'{name}' must be a non-negative integer")
    return int(raw)
