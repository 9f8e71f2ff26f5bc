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

from mlinfer.auth.guard import AccessGuard
from mlinfer.auth.identity import Scope
from mlinfer.core.errors import InvalidInputError
from mlinfer.core.tensors import tensor_from_list, tensor_to_list
from mlinfer.core.types import InferRequest, RequestedOutput
from mlinfer.dataplane import DataPlane
from mlinfer.exporter import triton_metrics
from mlinfer.gateway.responses import json_response
from mlinfer.gateway.security import authorize_http
from mlinfer.settings import Settings

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


def build_router(
    dataplane: DataPlane, registry: CollectorRegistry, settings: Settings, guard: AccessGuard
) -> APIRouter:
    router = APIRouter(tags=["Convenience API"])

    @router.get("/health", summary="Server and model health")
    async def health(request: Request) -> Response:
        if not settings.auth.open_health:
            await authorize_http(guard, request, Scope.MODELS_READ)
        live, ready = await dataplane.live(), await dataplane.ready()
        rows = await dataplane.repository_index()
        models = {
            f"{r.name}:{r.version}" if r.version else r.name: r.state or "UNLOADED" for r in rows
        }
        status = "ok" if live and ready else "unavailable"
        body = {
            "status": status,
            "live": live,
            "ready": ready,
            "backend": dataplane.backend.name,
            "models": models,
        }
        return json_response(body, 200 if ready else 503)

    @router.get("/models", summary="Models with their versions, state and signature")
    async def models(request: Request) -> Response:
        identity = await authorize_http(guard, request, Scope.MODELS_READ)
        out = []
        rows = await dataplane.repository_index()
        visible = set(identity.visible_models(r.name for r in rows))
        for row in (r for r in rows if r.name in visible):
            item: dict[str, Any] = {
                "name": row.name,
                "version": row.version,
                "state": row.state or "UNLOADED",
            }
            if row.reason:
                item["reason"] = row.reason
            if row.state == "READY":
                item.update(await dataplane.model_metadata(row.name, row.version))
            out.append(item)
        return json_response(out)

    @router.post("/infer", summary="Inference with inputs as nested lists")
    async def infer(request: Request, body: SimpleInferRequest) -> Response:
        await authorize_http(guard, request, Scope.INFER, body.model_name)
        spec = await dataplane.model_spec(body.model_name, body.model_version)
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
        response = await dataplane.infer(
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

    @router.get("/metrics", summary="Prometheus metrics (Triton's nv_* names)")
    async def metrics(request: Request) -> Response:
        if not settings.auth.open_metrics:
            await authorize_http(guard, request, Scope.MODELS_READ)
        text = triton_metrics.render(await dataplane.metrics_snapshot())
        return Response(
            text.encode() + generate_latest(registry), media_type=PROMETHEUS_CONTENT_TYPE
        )

    return router
