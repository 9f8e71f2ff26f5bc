"""The Open Inference Protocol REST routes (``/v2/...``), as Triton serves them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from opentelemetry import trace
from starlette.requests import Request
from starlette.responses import Response

from mlinfer.auth.guard import audited
from mlinfer.auth.identity import Scope
from mlinfer.core.errors import InvalidInputError
from mlinfer.core.model_config import config_to_json
from mlinfer.core.proto_json import message_to_dict
from mlinfer.dataplane import DataPlane
from mlinfer.gateway.body import read_body
from mlinfer.gateway.codec import parse_json
from mlinfer.gateway.infer_call import HTTP_STATUSES, InferCall
from mlinfer.gateway.infer_call import version_text as _version
from mlinfer.gateway.openapi import (
    AUTH,
    BACKEND,
    BODY,
    HEALTH,
    INDEX_REQUEST,
    LOAD_REQUEST,
    MODEL,
    empty_metadata,
    infer_metadata,
    json_body_metadata,
    route_metadata,
    unversioned,
    versioned,
)
from mlinfer.gateway.responses import json_response
from mlinfer.gateway.security import caller
from mlinfer.settings import Settings
from mlinfer.transport.access_log import AccessLog
from mlinfer.transport.policy import RequestPolicy
from mlinfer.transport.visibility import visible, visible_statistics


def _status(ok: bool, what: str) -> Response:
    # Triton: 200 with an empty body, or 400 with an error saying what is not ready.
    if ok:
        return Response(status_code=200)
    return json_response({"error": f"{what} not ready"}, 400)


class V2Routes:
    """One method per ``/v2`` route; :meth:`router` mounts them."""

    def __init__(
        self,
        dataplane: DataPlane,
        settings: Settings,
        tracer: trace.Tracer,
        policy: RequestPolicy,
    ) -> None:
        self._dp = dataplane
        self._tracer = tracer
        self._policy = policy
        self._limit = settings.max_request_bytes
        access = AccessLog.from_settings("http", HTTP_STATUSES, settings)
        self.infer_call = InferCall(dataplane, tracer, policy, access, self._limit)

    def router(self) -> APIRouter:
        router = APIRouter(prefix="/v2", tags=["Open Inference Protocol"])
        m, v = "/models/{model}", "/models/{model}/versions/{version:int}"
        model_meta = route_metadata(*AUTH, *MODEL)
        ready = empty_metadata(*AUTH, *MODEL, description="Ready (empty body)")
        routes: list[tuple[str, str, Any, str, dict[str, Any]]] = [
            ("GET", "", self.server_metadata, "Server metadata",
             route_metadata(*AUTH, access=HEALTH)),
            ("GET", "/health/live", self.health_live, "Server liveness",
             empty_metadata(*AUTH, description="Live (empty body)", access=HEALTH)),
            ("GET", "/health/ready", self.health_ready, "Server readiness",
             empty_metadata(*AUTH, description="Ready (empty body)", access=HEALTH)),
            ("GET", "/models/stats", self.all_stats, "Statistics of every model",
             route_metadata(*AUTH, *BACKEND)),
            ("GET", m, unversioned(self.model_metadata), "Model metadata", model_meta),
            ("GET", v, versioned(self.model_metadata), "Model version metadata", model_meta),
            ("GET", f"{m}/ready", unversioned(self.model_ready), "Model readiness", ready),
            ("GET", f"{v}/ready", versioned(self.model_ready), "Model version readiness", ready),
            ("GET", f"{m}/config", unversioned(self.model_config), "Model configuration",
             model_meta),
            ("GET", f"{v}/config", versioned(self.model_config), "Model version configuration",
             model_meta),
            ("GET", f"{m}/stats", unversioned(self.model_stats), "Model statistics", model_meta),
            ("GET", f"{v}/stats", versioned(self.model_stats), "Model version statistics",
             model_meta),
            ("POST", f"{m}/infer", unversioned(self.infer),
             "Inference (JSON or binary tensor data)", infer_metadata()),
            ("POST", f"{v}/infer", versioned(self.infer), "Inference on a version",
             infer_metadata()),
            ("POST", "/repository/index", self.repository_index, "Repository index",
             json_body_metadata(INDEX_REQUEST, *AUTH, *BODY, *BACKEND)),
            ("POST", "/repository/models/{model}/load", unversioned(self.load),
             "Load or reload a model", json_body_metadata(LOAD_REQUEST, *AUTH, *MODEL, *BODY)),
            ("POST", "/repository/models/{model}/unload", unversioned(self.unload),
             "Unload a model", route_metadata(*AUTH, *MODEL, *BODY)),
        ]  # fmt: skip
        for method, path, endpoint, summary, metadata in routes:
            router.add_api_route(path, endpoint, methods=[method], summary=summary, **metadata)
        return router

    async def server_metadata(self, request: Request) -> Response:
        await self._policy.authorize_health(caller(request))
        return json_response(self._dp.metadata())

    async def health_live(self, request: Request) -> Response:
        await self._policy.authorize_health(caller(request))
        return _status(await self._dp.live(), "Server")

    async def health_ready(self, request: Request) -> Response:
        await self._policy.authorize_health(caller(request))
        return _status(await self._dp.ready(), "Server")

    async def all_stats(self, request: Request) -> Response:
        identity = await self._policy.authorize(caller(request), Scope.MODELS_READ)
        stats = visible_statistics(identity, await self._dp.statistics())
        return json_response(message_to_dict(stats))

    async def model_metadata(
        self, request: Request, model: str, version: int | None = None
    ) -> Response:
        await self._policy.authorize(caller(request), Scope.MODELS_READ, model)
        meta = await self._dp.model_metadata(model, _version(version))
        return json_response(message_to_dict(meta))

    async def model_ready(
        self, request: Request, model: str, version: int | None = None
    ) -> Response:
        await self._policy.authorize(caller(request), Scope.MODELS_READ, model)
        return _status(await self._dp.model_ready(model, _version(version)), "Model version")

    async def model_config(
        self, request: Request, model: str, version: int | None = None
    ) -> Response:
        await self._policy.authorize(caller(request), Scope.MODELS_READ, model)
        config = await self._dp.model_config(model, _version(version))
        return json_response(config_to_json(config))

    async def model_stats(
        self, request: Request, model: str, version: int | None = None
    ) -> Response:
        await self._policy.authorize(caller(request), Scope.MODELS_READ, model)
        stats = await self._dp.statistics(model, _version(version))
        return json_response(message_to_dict(stats))

    async def infer(self, request: Request, model: str, version: int | None = None) -> Response:
        answer = await self.infer_call(request, model, version)
        return Response(answer.body, media_type=answer.media_type, headers=answer.headers)

    async def repository_index(self, request: Request) -> Response:
        identity = await self._policy.authorize(caller(request), Scope.MODELS_READ)
        ready_only = _request_object(await read_body(request, self._limit)).get("ready", False)
        if not isinstance(ready_only, bool):
            raise InvalidInputError("repository index request: 'ready' must be a boolean")
        rows = visible(identity, await self._dp.repository_index(ready_only), lambda r: r.name)
        return json_response([_index_row(r.name, r.version, r.state, r.reason) for r in rows])

    async def load(self, request: Request, model: str) -> Response:
        identity = await self._policy.authorize(caller(request), Scope.MODELS_ADMIN, model)
        params = _request_object(await read_body(request, self._limit)).get("parameters", {})
        if not isinstance(params, dict):
            raise InvalidInputError("'parameters' must be a JSON object")
        async with audited(self._policy.guard, identity, "load", model):
            await self._dp.load_model(model, params)
        return json_response({})

    async def unload(self, request: Request, model: str) -> Response:
        identity = await self._policy.authorize(caller(request), Scope.MODELS_ADMIN, model)
        await read_body(request, self._limit)
        async with audited(self._policy.guard, identity, "unload", model):
            await self._dp.unload_model(model)
        return json_response({})


def _request_object(body: bytes) -> dict[str, Any]:
    """An optional JSON object body (repository index, load): ``{}`` when blank."""
    if not body.strip():
        return {}
    doc = parse_json(body)
    if not isinstance(doc, dict):
        raise InvalidInputError("the request body must be a JSON object")
    return doc


def _index_row(name: str, version: str, state: str, reason: str) -> dict[str, str]:
    row = {"name": name}
    if version:
        row["version"] = version
    if state:
        row["state"] = state
    if reason:
        row["reason"] = reason
    return row
