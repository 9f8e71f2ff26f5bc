"""Mounting the streams on the REST app: one listener serves REST and WebSocket."""

from __future__ import annotations

from fastapi import FastAPI
from opentelemetry import trace

from mlinfer.auth.guard import AccessGuard
from mlinfer.dataplane import DataPlane
from mlinfer.observability.metrics import GatewayMetrics
from mlinfer.settings import Settings
from mlinfer.transport.policy import RequestPolicy
from mlinfer.websocket.routes import StreamRoutes


def mount_streams(
    app: FastAPI,
    dataplane: DataPlane,
    settings: Settings,
    tracer: trace.Tracer,
    metrics: GatewayMetrics,
    guard: AccessGuard,
) -> StreamRoutes:
    routes = StreamRoutes(
        dataplane, settings, tracer, RequestPolicy.from_settings(guard, settings), metrics
    )
    app.include_router(routes.router())
    return routes
