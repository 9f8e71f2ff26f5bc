"""The grpc.aio server: inference service, health checking, reflection, limits, draining."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from opentelemetry import trace
from tritonclient.grpc import service_pb2 as pb
from tritonclient.grpc import service_pb2_grpc

from mlinfer.auth.guard import AccessGuard
from mlinfer.dataplane import DataPlane
from mlinfer.grpc.access import ClosedServicesInterceptor
from mlinfer.grpc.interceptors import MetricsInterceptor
from mlinfer.grpc.servicer import InferenceServicer
from mlinfer.observability.metrics import GatewayMetrics
from mlinfer.settings import Settings
from mlinfer.transport.policy import RequestPolicy

log = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["GRPCInferenceService"].full_name
HEALTH_INTERVAL_S = 1.0


class GrpcServer:
    def __init__(
        self,
        dataplane: DataPlane,
        settings: Settings,
        metrics: GatewayMetrics,
        tracer: trace.Tracer,
        guard: AccessGuard,
    ) -> None:
        self._tracer = tracer
        self._policy = RequestPolicy.from_settings(guard, settings)
        self._dataplane = dataplane
        self._settings = settings
        self._metrics = metrics
        self._health = health.aio.HealthServicer()
        self._health_status: int | None = None
        self._health_task: asyncio.Task[None] | None = None
        self._server: grpc.aio.Server | None = None

    def _options(self) -> list[tuple[str, int]]:
        s = self._settings.grpc
        return [
            ("grpc.max_send_message_length", s.max_message_bytes),
            ("grpc.max_receive_message_length", s.max_message_bytes),
            ("grpc.keepalive_time_ms", s.keepalive_time_ms),
            ("grpc.keepalive_timeout_ms", s.keepalive_timeout_ms),
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.min_recv_ping_interval_without_data_ms", 5_000),
            ("grpc.http2.max_pings_without_data", 0),
        ]

    async def start(self) -> str:
        closed = ClosedServicesInterceptor(self._policy)
        interceptors = [MetricsInterceptor(self._metrics), *([closed] if closed.needed else [])]
        server = grpc.aio.server(options=self._options(), interceptors=interceptors)
        service_pb2_grpc.add_GRPCInferenceServiceServicer_to_server(
            InferenceServicer(self._dataplane, self._settings, self._tracer, self._policy), server
        )
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        reflection.enable_server_reflection(
            (SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server
        )
        address = f"{self._settings.host}:{self._settings.grpc.port}"
        tls = self._settings.tls
        if tls.cert_file and tls.key_file:
            credentials = grpc.ssl_server_credentials(
                [(tls.key_file.read_bytes(), tls.cert_file.read_bytes())]
            )
            port = server.add_secure_port(address, credentials)
        else:
            port = server.add_insecure_port(address)
        if port == 0:
            raise OSError(f"gRPC server could not bind {address}")
        await server.start()
        self._server = server
        await self._report_health()
        self._health_task = asyncio.create_task(self._follow_health(), name="grpc-health")
        return f"{self._settings.host}:{port}"

    async def _report_health(self) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if await self._dataplane.ready()
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        if status != self._health_status:
            self._health_status = status
            for name in ("", SERVICE_NAME):
                await self._health.set(name, status)

    async def _follow_health(self) -> None:
        """The health service follows readiness (a Triton behind us coming and going), as
        REST's /v2/health/ready does on every call; probes and balancers read it."""
        while True:
            await asyncio.sleep(HEALTH_INTERVAL_S)
            try:
                await self._report_health()
            except Exception:  # a failed check must not end the loop
                log.exception("gRPC health check failed")

    async def stop(self) -> None:
        """Report NOT_SERVING, then let in-flight calls finish within the grace period."""
        if self._server is None:
            return
        if self._health_task is not None:
            self._health_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._health_task
        await self._health.enter_graceful_shutdown()
        await self._server.stop(self._settings.shutdown_grace_seconds)
        self._server = None
