"""Builds and runs one mlinfer process: backend, DataPlane, REST (and gRPC when enabled)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector

from mlinfer.admin.app import mount_admin
from mlinfer.admission.controller import AdmissionController
from mlinfer.admission.settings import AdmissionSettings
from mlinfer.auth.authenticator import Authenticator
from mlinfer.auth.guard import AccessGuard
from mlinfer.backends.base import Backend
from mlinfer.cache.factory import create_response_cache
from mlinfer.cache.stats import CacheObserver
from mlinfer.dataplane import DataPlane
from mlinfer.gateway.app import create_app
from mlinfer.gateway.http_protocol import http_protocol
from mlinfer.listeners.reuse_port import reuse_port_socket
from mlinfer.observability.metrics import GatewayMetrics
from mlinfer.observability.tracing import create_tracer_provider, get_tracer
from mlinfer.ratelimit.limiter import RateLimiter
from mlinfer.registry.traffic import TrafficRouter
from mlinfer.settings import Settings
from mlinfer.websocket.app import mount_streams
from mlinfer.websocket.routes import StreamRoutes

log = logging.getLogger(__name__)


def make_backend(settings: Settings, tracer: trace.Tracer) -> Backend:
    drain = settings.shutdown_grace_seconds
    if settings.triton.url:
        from mlinfer.backends.triton.backend import TritonBackend

        return TritonBackend(settings.triton.url, drain_seconds=drain, deadlines=settings.triton)
    from mlinfer.backends.embedded.backend import EmbeddedBackend

    return EmbeddedBackend(settings.engine, tracer, drain_seconds=drain)


def make_admission(settings: AdmissionSettings, metrics: GatewayMetrics) -> AdmissionController:
    controller = AdmissionController(
        settings.max_inflight,
        settings.max_queue,
        settings.max_wait_ms / 1000,
        settings.default_priority,
        on_shed=lambda reason: metrics.shed.labels(reason).inc(),
        on_wait=metrics.admission_wait.observe,
    )
    metrics.admission_queue.set_function(lambda: controller.stats.queued)
    metrics.admission_inflight.set_function(lambda: controller.stats.inflight)
    return controller


class _CacheMetrics(CacheObserver):
    def __init__(self, metrics: GatewayMetrics) -> None:
        self._metrics = metrics

    def on_backend_failure(self, backend: str, error: BaseException) -> None:
        self._metrics.cache_errors.inc()


def make_guard(settings: Settings, metrics: GatewayMetrics) -> AccessGuard:
    limiter = RateLimiter.from_settings(
        settings.ratelimit, on_fallback=metrics.ratelimit_fallbacks.inc
    )
    return AccessGuard(Authenticator(settings.auth), limiter, metrics)


class _UvicornServer(uvicorn.Server):
    """uvicorn without its own signal handling: the process owns SIGTERM and SIGINT.

    uvicorn's handlers re-raise the signal once its server has stopped, which kills the
    process before the gRPC server, the backend drain and the span flush have run.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass(frozen=True)
class Endpoints:
    http: str  # host:port
    grpc: str | None


class Server:
    """All-in-one server; ``rest``/``grpc`` choose which transports run in this process."""

    def __init__(
        self,
        settings: Settings,
        *,
        rest: bool = True,
        grpc: bool = False,
        tracer_provider: TracerProvider | None = None,
        backend_factory: Callable[[Settings, trace.Tracer], Backend] = make_backend,
    ) -> None:
        self.settings = settings
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self.metrics = GatewayMetrics(self.registry)
        self.tracer_provider = tracer_provider or create_tracer_provider(settings.tracing)
        self.tracer = tracer = get_tracer(self.tracer_provider)
        self.backend = backend_factory(settings, tracer)
        self.cache = create_response_cache(settings.cache, _CacheMetrics(self.metrics))
        self.guard = make_guard(settings, self.metrics)
        # -- registry: traffic policies for requests naming no version --
        self.traffic = TrafficRouter()
        self.registry_server: Any = None  # RegistryServer when hosted in-process
        self.policy_subscriber: Any = None
        self.dataplane = DataPlane(
            self.backend,
            admission=make_admission(settings.admission, self.metrics),
            cache=self.cache,
            tracer=tracer,
            traffic=self.traffic,
            on_result=self.metrics.observe_version,
            on_classes=self.metrics.observe_classes,
        )
        self._rest = rest
        self._grpc = grpc
        self._uvicorn: uvicorn.Server | None = None
        self.streams: StreamRoutes | None = None
        self._uvicorn_task: asyncio.Task[None] | None = None
        self._grpc_server: object | None = None
        self._stop_requested = asyncio.Event()
        self.endpoints = Endpoints("", None)

    async def start(self) -> Endpoints:
        await self.guard.start()
        await self.backend.start()
        http = ""
        # gRPC listens before REST answers: a client that waited for REST's readiness may
        # go straight to the gRPC port (the other order refused that connection).
        grpc_endpoint = await self._start_grpc() if self._grpc else None
        if self._rest:
            http = await self._start_rest()
        self.endpoints = Endpoints(http, grpc_endpoint)
        await self._start_registry()
        return self.endpoints

    async def _start_registry(self) -> None:
        """Host the registry (setting ``embedded``) and/or subscribe to its policies."""
        registry = self.settings.registry
        url = registry.url
        if registry.embedded:
            from mlinfer.registry.process import RegistryServer

            hosted = registry.model_copy(
                update={"serving_repository": self.settings.engine.model_repository}
            )
            serving = f"http://{self.endpoints.http}" if self.endpoints.http else None
            self.registry_server = RegistryServer(hosted, self.guard.authenticator, serving)
            url = await self.registry_server.start()
            log.info("registry hosted in-process at %s (docs: %s/docs)", url, url)
        if url:
            from mlinfer.registry.subscriber import PolicySubscriber

            self.policy_subscriber = PolicySubscriber(registry, self.traffic, url)
            self.policy_subscriber.name_as(self.endpoints.http or self.endpoints.grpc or "")
            self.policy_subscriber.start()

    def _hosted_registry_url(self) -> str | None:
        if self.registry_server is None:
            return None
        url: str = self.registry_server.url
        return url or None

    async def _start_rest(self) -> str:
        app = create_app(
            self.dataplane, self.settings, self.registry, self.metrics, self.tracer, self.guard
        )
        mount_admin(app, self.settings, self.guard, self._hosted_registry_url)
        self.streams = mount_streams(
            app, self.dataplane, self.settings, self.tracer, self.metrics, self.guard
        )
        config = uvicorn.Config(
            app,
            host=self.settings.host,
            port=self.settings.http_port,
            lifespan="off",
            log_config=None,  # uvicorn logs through our handlers (JSON when configured)
            log_level=self.settings.log_level.lower(),
            access_log=False,
            loop="none",
            http=http_protocol(),  # uvicorn's choice, answering malformed HTTP in JSON
            timeout_graceful_shutdown=int(self.settings.shutdown_grace_seconds),
            ssl_certfile=self.settings.tls.cert_file,
            ssl_keyfile=self.settings.tls.key_file,
            ws_max_size=self.settings.websocket.max_message_bytes,
        )
        self._uvicorn = _UvicornServer(config)
        sockets = None
        if self.settings.workers.reuse_port:  # one of several workers sharing the port
            sockets = [reuse_port_socket(self.settings.host, self.settings.http_port, listen=True)]
        self._uvicorn_task = asyncio.create_task(self._uvicorn.serve(sockets), name="rest")
        while not self._uvicorn.started:
            if self._uvicorn_task.done():
                self._uvicorn_task.result()  # re-raise why the server could not start
                raise RuntimeError("REST server exited before it started")
            await asyncio.sleep(0.01)
        port = self._uvicorn.servers[0].sockets[0].getsockname()[1]
        return f"{self.settings.host}:{port}"

    async def _start_grpc(self) -> str:
        from mlinfer.grpc.server import GrpcServer

        server = GrpcServer(self.dataplane, self.settings, self.metrics, self.tracer, self.guard)
        self._grpc_server = server
        return await server.start()

    def stop_on_signals(self) -> None:
        """SIGTERM (systemd, Kubernetes) and SIGINT ask for the same graceful stop."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)

    async def wait(self) -> None:
        """Until :meth:`request_stop` (a signal) or the REST server exits on its own."""
        waiters: list[asyncio.Future[object]] = [asyncio.ensure_future(self._stop_requested.wait())]
        if self._uvicorn_task is not None:
            waiters.append(asyncio.ensure_future(asyncio.shield(self._uvicorn_task)))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    def request_stop(self) -> None:
        self._stop_requested.set()

    async def stop(self) -> None:
        """Stop taking work, let in-flight requests finish (within the grace period) on both
        transports at once, drain the backend, then flush spans."""
        if self.policy_subscriber is not None:
            await self.policy_subscriber.stop()
        if self.registry_server is not None:
            await self.registry_server.stop()
        await asyncio.gather(self._stop_grpc(), self._stop_rest())
        await self.backend.stop()
        await self.guard.close()
        if self.cache is not None:
            await self.cache.close()
        if self.tracer_provider is not None:
            self.tracer_provider.shutdown()  # type: ignore[no-untyped-call]

    async def _stop_grpc(self) -> None:
        if self._grpc_server is not None:
            from mlinfer.grpc.server import GrpcServer

            assert isinstance(self._grpc_server, GrpcServer)
            await self._grpc_server.stop()

    async def _stop_rest(self) -> None:
        if self._uvicorn is not None and self._uvicorn_task is not None:
            self._uvicorn.should_exit = True
            await self._uvicorn_task
