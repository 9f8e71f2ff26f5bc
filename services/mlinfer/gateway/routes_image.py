"""``POST /infer/image``: an encoded image in, classifications or detections out.

Pre- and post-processing come from the model's config.pbtxt ``parameters``
(see ``mlinfer.imaging``), never from its name.
"""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Depends, Query
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message

from mlinfer.auth.identity import Scope
from mlinfer.core.errors import InvalidInputError, PayloadTooLargeError
from mlinfer.core.model_spec import ModelSpec
from mlinfer.core.parameters import ascii_digits
from mlinfer.dataplane import DataPlane
from mlinfer.gateway.body import read_body
from mlinfer.gateway.openapi import image_metadata
from mlinfer.gateway.responses import json_response
from mlinfer.gateway.security import caller
from mlinfer.imaging.decode import DecodeLimits
from mlinfer.imaging.pipeline import ImagePipeline
from mlinfer.settings import Settings
from mlinfer.transport.policy import RequestPolicy

_UPLOAD_FIELDS = ("image", "file")
_FORM_OVERHEAD = 64 * 1024  # multipart boundaries and part headers around the image


class ImageRoutes:
    """``/infer/image``; :meth:`router` mounts it."""

    def __init__(self, dataplane: DataPlane, settings: Settings, policy: RequestPolicy) -> None:
        self._dp = dataplane
        self._policy = policy
        self._max_bytes = settings.image.max_bytes
        self._limits = DecodeLimits(settings.image.max_bytes, settings.image.max_pixels)

    def router(self) -> APIRouter:
        router = APIRouter(tags=["Convenience API"])
        router.add_api_route(
            "/infer/image",
            self.infer_image,
            methods=["POST"],
            summary="Inference on an uploaded JPEG/PNG (multipart field 'image' or raw body)",
            # FastAPI runs dependencies before it reports query errors: credentials first.
            dependencies=[Depends(self._identify)],
            **image_metadata(),
        )
        return router

    async def _identify(self, request: Request) -> None:
        request.state.identity = await self._policy.identify(caller(request), Scope.INFER)

    def _pipeline(self, spec: ModelSpec) -> ImagePipeline:
        # Built once per loaded model version and dropped with it, not per request.
        limits = self._limits
        return spec.derived("image_pipeline", lambda s: ImagePipeline.from_spec(s, limits))

    async def infer_image(
        self,
        request: Request,
        model: str = Query(..., description="Model whose config declares image processing."),
        version: str = Query("", description="Model version; empty = newest ready."),
        top_k: int | None = Query(None, ge=1, description="Classification: labels to return."),
        priority: int = Query(0, ge=0, description="1 = highest; 0 = the model's default."),
    ) -> Response:
        await self._policy.admit(caller(request), request.state.identity, Scope.INFER, model)
        data = await _image_bytes(request, self._max_bytes)
        spec = await self._dp.model_spec(model, version)
        pipeline = self._pipeline(spec)
        start = time.perf_counter()
        prepared = await asyncio.to_thread(pipeline.prepare, data)
        response = await self._dp.infer(
            pipeline.request(prepared, model_version=version, priority=priority)
        )
        result = pipeline.interpret(response, prepared, top_k=top_k)
        result["latency_ms"] = round((time.perf_counter() - start) * 1000, 3)
        return json_response(result)


async def _image_bytes(request: Request, limit: int) -> bytes:
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        data = await read_body(request, limit, "MLINFER_IMAGE_MAX_BYTES")
        if not data:
            raise InvalidInputError("empty request body: send a JPEG or PNG image")
        return data
    declared = request.headers.get("content-length")
    if declared is not None and ascii_digits(declared) and int(declared) > limit + _FORM_OVERHEAD:
        raise PayloadTooLargeError(
            f"upload of {declared} bytes exceeds the image limit of {limit} bytes "
            "(MLINFER_IMAGE_MAX_BYTES)"
        )
    # Read within the limit first: the form parser itself would buffer any chunked upload.
    upload_body = await read_body(request, limit + _FORM_OVERHEAD, "MLINFER_IMAGE_MAX_BYTES")
    form = await _replayed(request, upload_body).form(max_files=1, max_fields=8)
    try:
        upload = next((form[f] for f in _UPLOAD_FIELDS if f in form), None)
        if not isinstance(upload, UploadFile):
            raise InvalidInputError(
                "multipart upload needs the image in a file field named 'image' (or 'file')"
            )
        data = await upload.read(limit + 1)
    finally:
        await form.close()
    if len(data) > limit:
        raise PayloadTooLargeError(
            f"image exceeds the limit of {limit} bytes (MLINFER_IMAGE_MAX_BYTES)"
        )
    return data


def _replayed(request: Request, body: bytes) -> Request:
    """``request`` with its body already read: parsers read ``body`` instead of the socket."""
    pending = [body]

    async def receive() -> Message:
        if pending:
            return {"type": "http.request", "body": pending.pop(), "more_body": False}
        return await request.receive()  # a disconnect, if the client goes

    return Request(request.scope, receive)
