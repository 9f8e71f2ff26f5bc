"""FastAPI app factory: the REST face of one DataPlane."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from opentelemetry import trace
from prometheus_client import CollectorRegistry
from starlette.exceptions import HTTPException

import mlinfer
from mlinfer.auth.guard import AccessGuard
from mlinfer.core.errors import MLInferError
from mlinfer.dataplane import DataPlane
from mlinfer.gateway import openapi_document
from mlinfer.gateway.body_deadline import BodyDeadlineMiddleware
from mlinfer.gateway.errors import (
    handle_http_exception,
    handle_mlinfer_error,
    handle_validation_error,
)
from mlinfer.gateway.fast_infer import FastInferMiddleware
from mlinfer.gateway.middleware import GatewayMiddleware, LastResortMiddleware
from mlinfer.gateway.routes_admin import AdminRoutes
from mlinfer.gateway.routes_image import ImageRoutes
from mlinfer.gateway.routes_simple import SimpleRoutes
from mlinfer.gateway.routes_v2 import V2Routes
from mlinfer.observability.metrics import GatewayMetrics
from mlinfer.settings import Settings
from mlinfer.transport.policy import RequestPolicy


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
        # served offline by mlinfer.admin.docs (the defaults load assets from a CDN)
        docs_url=None,
        redoc_url=None,
        # closed (MLINFER_AUTH_OPEN_DOCS=false): served by openapi_document with a check
        openapi_url=openapi_document.OPENAPI_PATH if settings.auth.open_docs else None,
    )
    policy = RequestPolicy.from_settings(guard, settings)
    v2 = V2Routes(dataplane, settings, tracer, policy)
    app.add_middleware(FastInferMiddleware, call=v2.infer_call)  # innermost: policy applies
    app.add_middleware(LastResortMiddleware)
    app.add_middleware(BodyDeadlineMiddleware, seconds=settings.request_body_timeout_s)
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
    app.add_exception_handler(HTTPException, handle_http_exception)
    app.include_router(v2.router())
    app.include_router(ImageRoutes(dataplane, settings, policy).router())
    app.include_router(SimpleRoutes(dataplane, settings, registry, policy).router())
    app.include_router(AdminRoutes(dataplane, settings, policy).router())
    openapi_document.install(app, settings.auth, policy)
    return app
