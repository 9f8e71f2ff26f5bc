"""Convenience API: ``/infer``, ``/models``, ``/health``, ``/metrics`` for humans and scripts."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from fastapi import APIRouter
from prometheus_client import CollectorRegistry, generate_latest
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from mlinfer.auth.identity import Scope
from mlinfer.core.errors import InvalidInputError
from mlinfer.core.proto_json import message_to_dict
from mlinfer.core.tensors import tensor_from_list, tensor_to_list
from mlinfer.core.types import InferRequest, RequestedOutput
from mlinfer.dataplane import DataPlane
from mlinfer.exporter import triton_metrics
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
from mlinfer.transport.policy import RequestPolicy
from mlinfer.transport.visibility import visible

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class SimpleInferRequest(BaseModel):
    model_name: str = Field(..., description="Model to run.")
    model_version: str = Field("", description="Version; empty = newest ready version.")
    inputs: dict[str, Any] = Field(
        ..., description="Input name -> nested list (shape inferred, datatype from the model)."
    )
    outputs: list[str] | None = Field(None, description="Outputs to return (default: all).")
    top_k: int = Field(0, ge=0, description="Classification: top-k labels per output.")
    priority: int = Field(0, ge=0, description="1 = highest; 0 = the model's default.")
    timeout_us: int = Field(0, ge=0, description="Queue timeout override in microseconds.")


class SimpleRoutes:
    """One method per convenience route; :meth:`router` mounts them."""

    def __init__(
        self, dataplane: DataPlane, registry: CollectorRegistry, policy: RequestPolicy
    ) -> None:
        self._dp = dataplane
        self._registry = registry
        self._policy = policy

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
            **route_metadata(*AUTH, *MODEL, *BODY, *INFERENCE),
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
        await self._policy.authorize_health(caller(request))
        live, ready = await self._dp.live(), await self._dp.ready()
        rows = await self._dp.repository_index()
        models = {
            f"{r.name}:{r.version}" if r.version else r.name: r.state or "UNLOADED" for r in rows
        }
        status = "ok" if live and ready else "unavailable"
        body = {
            "status": status,
            "live": live,
            "ready": ready,
            "backend": self._dp.backend.name,
            "models": models,
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

    async def infer(self, request: Request, body: SimpleInferRequest) -> Response:
        await self._policy.authorize(caller(request), Scope.INFER, body.model_name)
        spec = await self._dp.model_spec(body.model_name, body.model_version)
        tensors = []
        for name, value in body.inputs.items():
            tspec = spec.input(name)
            if tspec is None:
                raise InvalidInputError(
                    f"unexpected inference input '{name}' for model '{spec.name}'"
                )
            shape = (
                np.shape(value)
                if tspec.datatype != "BYTES"
                else np.shape(np.asarray(value, dtype=object))
            )
            tensors.append(tensor_from_list(name, tspec.datatype, shape, value))
        outputs = None
        if body.outputs is not None or body.top_k:
            names = body.outputs or [o.name for o in spec.outputs]
            outputs = [RequestedOutput(n, False, body.top_k) for n in names]
        start = time.perf_counter()
        response = await self._dp.infer(
            InferRequest(
                model_name=body.model_name,
                model_version=body.model_version,
                inputs=tensors,
                outputs=outputs,
                priority=body.priority,
                timeout_us=body.timeout_us,
            )
        )
        latency_ms = (time.perf_counter() - start) * 1000
        return json_response(
            {
                "model_name": response.model_name,
                "model_version": response.model_version,
                "outputs": {
                    t.name: {
                        "datatype": t.datatype,
                        "shape": list(t.shape),
                        "data": tensor_to_list(t),
                    }
                    for t in response.outputs
                },
                "latency_ms": round(latency_ms, 3),
            }
        )

    async def metrics(self, request: Request) -> Response:
        await self._policy.authorize_metrics(caller(request))
        text = triton_metrics.render(await self._dp.metrics_snapshot())
        return Response(
            text.encode() + generate_latest(self._registry), media_type=PROMETHEUS_CONTENT_TYPE
        )
