"""FastAPI app factory: the REST face of one DataPlane."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from opentelemetry import trace
from prometheus_client import CollectorRegistry

import mlinfer
from mlinfer.auth.guard import AccessGuard
from mlinfer.core.dataplane import DataPlane
from mlinfer.core.errors import MLInferError
from mlinfer.core.settings import Settings
from mlinfer.gateway import routes_admin, routes_image, routes_simple, routes_v2
from mlinfer.gateway.errors import handle_mlinfer_error, handle_validation_error
from mlinfer.gateway.middleware import GatewayMiddleware
from mlinfer.observability.metrics import GatewayMetrics


def create_app(
    dataplane: DataPlane,
    settings: Settings,
    registry: CollectorRegistry,
    metrics: GatewayMetrics,
    tracer: trace.Tracer,
    guard: AccessGuard,
) -> FastAPI:
    app = FastAPI(
        title="mlinfer",
        description="Triton-compatible inference server: Open Inference Protocol (KServe v2) "
        "REST API with the binary tensor data and classification extensions.",
        version=mlinfer.__version__,
    )
    if settings.cors_allow_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_allow_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["*"],
            expose_headers=["Inference-Header-Content-Length", "X-Cache", "Retry-After"],
        )
    app.add_middleware(GatewayMiddleware, metrics=metrics)
    app.add_exception_handler(MLInferError, handle_mlinfer_error)
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.include_router(routes_v2.build_router(dataplane, settings, tracer, guard))
    app.include_router(routes_image.build_router(dataplane, settings, guard))
    app.include_router(routes_simple.build_router(dataplane, registry, settings, guard))
    app.include_router(routes_admin.build_router(dataplane, settings, guard))
    return app
