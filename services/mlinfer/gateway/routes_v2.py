"""The Open Inference Protocol REST routes (``/v2/...``), as Triton serves them."""

from __future__ import annotations

import logging
import time
from typing import Any

from fastapi import APIRouter
from opentelemetry import trace
from starlette.requests import Request
from starlette.responses import Response

from mlinfer.auth.guard import AccessGuard, audited
from mlinfer.auth.identity import Identity, Scope
from mlinfer.core.dataplane import CACHE_HIT_PARAMETER, DataPlane
from mlinfer.core.errors import InvalidInputError, MLInferError
from mlinfer.core.model_config import config_to_json
from mlinfer.core.settings import Settings
from mlinfer.core.types import InferRequest, InferResponse
from mlinfer.gateway.body import read_body
from mlinfer.gateway.codec import (
    HEADER_LENGTH,
    decode_infer_request,
    encode_infer_response,
    parse_json,
)
from mlinfer.gateway.responses import json_response
from mlinfer.gateway.security import authorize_http
from mlinfer.observability.logs import ACCESS_LOGGER, log_request
from mlinfer.observability.tracing import server_span, trace_headers


def _version(version: int | None) -> str:
    """Versions in REST paths are digits only, as Triton routes them (others are 404)."""
    return "" if version is None else str(version)


def _status(ok: bool, what: str) -> Response:
    # Triton: 200 with an empty body, or 400 with an error saying what is not ready.
    if ok:
        return Response(status_code=200)
    return json_response({"error": f"{what} not ready"}, 400)


def apply_priority_header(request: InferRequest, header: str | None) -> None:
    """``X-Priority`` maps to the ``priority`` parameter unless the body sets one."""
    if header is None or "priority" in request.parameters:
        return
    if not header.strip().isdigit():
        raise InvalidInputError(f"X-Priority header must be a non-negative integer, got '{header}'")
    request.priority = int(header)


def build_router(
    dataplane: DataPlane,
    settings: Settings,
    tracer: trace.Tracer,
    guard: AccessGuard,
) -> APIRouter:
    router = APIRouter(prefix="/v2", tags=["Open Inference Protocol"])
    limit = settings.max_request_bytes
    access = logging.getLogger(ACCESS_LOGGER)

    async def allow(request: Request, action: Scope, model: str | None = None) -> Identity:
        return await authorize_http(guard, request, action, model)

    async def allow_health(request: Request) -> None:
        if not settings.auth_open_health:
            await allow(request, Scope.MODELS_READ)

    @router.get("", summary="Server metadata")
    async def server_metadata(request: Request) -> Response:
        await allow_health(request)
        return json_response(dataplane.metadata())

    @router.get("/health/live", summary="Server liveness")
    async def health_live(request: Request) -> Response:
        await allow_health(request)
        return _status(await dataplane.live(), "Server")

    @router.get("/health/ready", summary="Server readiness")
    async def health_ready(request: Request) -> Response:
        await allow_health(request)
        return _status(await dataplane.ready(), "Server")

    @router.get("/models/stats", summary="Statistics of every model")
    async def all_stats(request: Request) -> Response:
        identity = await allow(request, Scope.MODELS_READ)
        stats = await dataplane.statistics()
        visible = set(identity.visible_models(s["name"] for s in stats["model_stats"]))
        stats["model_stats"] = [s for s in stats["model_stats"] if s["name"] in visible]
        return json_response(stats)

    @router.get("/models/{model}", summary="Model metadata")
    @router.get("/models/{model}/versions/{version:int}", summary="Model version metadata")
    async def model_metadata(request: Request, model: str, version: int | None = None) -> Response:
        await allow(request, Scope.MODELS_READ, model)
        return json_response(await dataplane.model_metadata(model, _version(version)))

    @router.get("/models/{model}/ready", summary="Model readiness")
    @router.get("/models/{model}/versions/{version:int}/ready", summary="Model version readiness")
    async def model_ready(request: Request, model: str, version: int | None = None) -> Response:
        await allow(request, Scope.MODELS_READ, model)
        return _status(await dataplane.model_ready(model, _version(version)), "Model version")

    @router.get("/models/{model}/config", summary="Model configuration")
    @router.get(
        "/models/{model}/versions/{version:int}/config", summary="Model version configuration"
    )
    async def model_config(request: Request, model: str, version: int | None = None) -> Response:
        await allow(request, Scope.MODELS_READ, model)
        return json_response(config_to_json(await dataplane.model_config(model, _version(version))))

    @router.get("/models/{model}/stats", summary="Model statistics")
    @router.get("/models/{model}/versions/{version:int}/stats", summary="Model version statistics")
    async def model_stats(request: Request, model: str, version: int | None = None) -> Response:
        await allow(request, Scope.MODELS_READ, model)
        return json_response(await dataplane.statistics(model, _version(version)))

    @router.post("/models/{model}/infer", summary="Inference (JSON or binary tensor data)")
    @router.post("/models/{model}/versions/{version:int}/infer", summary="Inference on a version")
    async def infer(request: Request, model: str, version: int | None = None) -> Response:
        start = time.perf_counter()
        infer_request: InferRequest | None = None
        response: InferResponse | None = None
        status = 500
        try:
            identity = await allow(request, Scope.INFER, model)
            body = await read_body(request, limit)
            infer_request = decode_infer_request(
                model, _version(version), body, request.headers.get(HEADER_LENGTH)
            )
            apply_priority_header(infer_request, request.headers.get("x-priority"))
            infer_request.trace_headers = trace_headers(request.headers)
            infer_request.route_headers, infer_request.subject = request.headers, identity.subject
            with server_span(tracer, f"POST /v2/models/{model}/infer", request.headers, "http"):
                response = await dataplane.infer(infer_request)
            payload, header_length = encode_infer_response(response, infer_request)
            headers = {}
            if header_length is not None:
                headers[HEADER_LENGTH] = str(header_length)
            if response.parameters.get(CACHE_HIT_PARAMETER):
                headers["X-Cache"] = "HIT"
            status = 200
            media = "application/json" if header_length is None else "application/octet-stream"
            return Response(payload, media_type=media, headers=headers)
        except MLInferError as exc:
            status = exc.status.value
            raise
        finally:
            if settings.access_log:
                log_request(
                    access,
                    protocol="http",
                    request_id=infer_request.id if infer_request else None,
                    model=model,
                    version=response.model_version if response else _version(version) or None,
                    status=status,
                    latency_ms=round((time.perf_counter() - start) * 1000, 3),
                    cache_hit=bool(response and response.parameters.get(CACHE_HIT_PARAMETER)),
                    priority=infer_request.priority if infer_request else None,
                    identity=getattr(request.state, "identity", None),
                )

    @router.post("/repository/index", summary="Repository index")
    async def repository_index(request: Request) -> Response:
        identity = await allow(request, Scope.MODELS_READ)
        body = await read_body(request, limit)
        ready_only = False
        if body.strip():
            doc = parse_json(body)
            ready_only = bool(doc.get("ready", False)) if isinstance(doc, dict) else False
        rows = await dataplane.repository_index(ready_only)
        visible = set(identity.visible_models(r.name for r in rows))
        return json_response(
            [_index_row(r.name, r.version, r.state, r.reason) for r in rows if r.name in visible]
        )

    @router.post("/repository/models/{model}/load", summary="Load or reload a model")
    async def load(request: Request, model: str) -> Response:
        identity = await allow(request, Scope.MODELS_ADMIN, model)
        body = await read_body(request, limit)
        params: dict[str, Any] = {}
        if body.strip():
            doc = parse_json(body)
            params = doc.get("parameters", {}) if isinstance(doc, dict) else {}
            if not isinstance(params, dict):
                raise InvalidInputError("'parameters' must be a JSON object")
        async with audited(guard, identity, "load", model):
            await dataplane.load_model(model, params)
        return json_response({})

    @router.post("/repository/models/{model}/unload", summary="Unload a model")
    async def unload(request: Request, model: str) -> Response:
        identity = await allow(request, Scope.MODELS_ADMIN, model)
        await read_body(request, limit)
        async with audited(guard, identity, "unload", model):
            await dataplane.unload_model(model)
        return json_response({})

    return router


def _index_row(name: str, version: str, state: str, reason: str) -> dict[str, str]:
    row = {"name": name}
    if version:
        row["version"] = version
    if state:
        row["state"] = state
    if reason:
        row["reason"] = reason
    return row
