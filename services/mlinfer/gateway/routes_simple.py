"""Convenience API: ``/infer``, ``/models``, ``/health``, ``/metrics`` for humans and scripts."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter
from prometheus_client import CollectorRegistry, generate_latest
from starlette.requests import Request
from starlette.responses import Response

from mlinfer.auth.identity import Scope
from mlinfer.core.proto_json import message_to_dict
from mlinfer.dataplane import DataPlane
from mlinfer.exporter import triton_metrics
from mlinfer.gateway.body import read_body
from mlinfer.gateway.openapi import (
    AUTH,
    BACKEND,
    BODY,
    INFERENCE,
    METRICS,
    MODEL,
    health_metadata,
    route_metadata,
    text_metadata,
)
from mlinfer.gateway.responses import json_response
from mlinfer.gateway.security import caller
from mlinfer.gateway.simple_infer import (
    SimpleInferResponse,
    build_infer_request,
    encode_outputs,
    parse_simple_request,
)
from mlinfer.settings import Settings
from mlinfer.transport.policy import RequestPolicy
from mlinfer.transport.visibility import visible

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# The handler reads its body itself (after authentication, within the size limit), so the
# document names the body's schema instead of FastAPI inferring it from the signature.
_INFER_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/SimpleInferRequest"}}
        },
    }
}


class SimpleRoutes:
    """One method per convenience route; :meth:`router` mounts them."""

    def __init__(
        self,
        dataplane: DataPlane,
        settings: Settings,
        registry: CollectorRegistry,
        policy: RequestPolicy,
    ) -> None:
        self._dp = dataplane
        self._registry = registry
        self._policy = policy
        self._limit = settings.max_request_bytes

    def router(self) -> APIRouter:
        router = APIRouter(tags=["Convenience API"])
        router.add_api_route(
            "/health",
            self.health,
            methods=["GET"],
            summary="Server and model health",
            **health_metadata(*AUTH),
        )
        router.add_api_route(
            "/models",
            self.models,
            methods=["GET"],
            summary="Models with their versions, state and signature",
            **route_metadata(*AUTH, *BACKEND),
        )
        router.add_api_route(
            "/infer",
            self.infer,
            methods=["POST"],
            summary="Inference with inputs as nested lists",
            response_model=SimpleInferResponse,
            **route_metadata(*AUTH, *MODEL, *BODY, *INFERENCE, extra=_INFER_BODY),
        )
        router.add_api_route(
            "/metrics",
            self.metrics,
            methods=["GET"],
            summary="Prometheus metrics (Triton's nv_* names)",
            **text_metadata(*AUTH, description="Prometheus text exposition format", access=METRICS),
        )
        return router

    async def health(self, request: Request) -> Response:
        identity = await self._policy.authorize_health(caller(request))
        live, ready = await self._dp.live(), await self._dp.ready()
        status = "ok" if live and ready else "unavailable"
        body: dict[str, Any] = {
            "status": status,
            "live": live,
            "ready": ready,
            "backend": self._dp.backend.name,
        }
        # Open to anyone while auth is on: the inventory is not; checked: the caller's models.
        viewer = self._policy.inventory_viewer(identity)
        if viewer is not None:
            rows = visible(viewer, await self._dp.repository_index(), lambda r: r.name)
            body["models"] = {
                f"{r.name}:{r.version}" if r.version else r.name: r.state or "UNLOADED"
                for r in rows
            }
        return json_response(body, 200 if ready else 503)

    async def models(self, request: Request) -> Response:
        identity = await self._policy.authorize(caller(request), Scope.MODELS_READ)
        out = []
        for row in visible(identity, await self._dp.repository_index(), lambda r: r.name):
            item: dict[str, Any] = {
                "name": row.name,
                "version": row.version,
                "state": row.state or "UNLOADED",
            }
            if row.reason:
                item["reason"] = row.reason
            if row.state == "READY":
                item.update(message_to_dict(await self._dp.model_metadata(row.name, row.version)))
            out.append(item)
        return json_response(out)

    async def infer(self, request: Request) -> Response:
        # Credentials first, then the body within the limit, then the model it names.
        who = caller(request)
        identity = await self._policy.identify(who, Scope.INFER)
        body = parse_simple_request(await read_body(request, self._limit))
        await self._policy.admit(who, identity, Scope.INFER, body.model_name)
        spec = await self._dp.model_spec(body.model_name, body.model_version)
        start = time.perf_counter()
        response = await self._dp.infer(build_infer_request(body, spec))
        latency_ms = (time.perf_counter() - start) * 1000
        return json_response(
            {
                "model_name": response.model_name,
                "model_version": response.model_version,
                "outputs": encode_outputs(body, response),
                "latency_ms": round(latency_ms, 3),
            }
        )

    async def metrics(self, request: Request) -> Response:
        await self._policy.authorize_metrics(caller(request))
        text = triton_metrics.render(await self._dp.metrics_snapshot())
        return Response(
            text.encode() + generate_latest(self._registry), media_type=PROMETHEUS_CONTENT_TYPE
        )
