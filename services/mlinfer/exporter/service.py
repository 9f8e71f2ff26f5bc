"""The exporter process: collectors per settings, a sampler, and an HTTP ``/metrics``."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from mlinfer.exporter.host import HostCollector
from mlinfer.exporter.jetson import TegrastatsCollector
from mlinfer.exporter.nvml import NvmlCollector
from mlinfer.exporter.sampler import Sampler, Source, render_triton_counters
from mlinfer.exporter.settings import ExporterSettings
from mlinfer.exporter.sysfs import SysfsCollector


def build_sources(settings: ExporterSettings) -> list[Source]:
    factories: dict[str, Any] = {
        "nvml": lambda: NvmlCollector(settings.process_names),
        "tegrastats": lambda: TegrastatsCollector(
            settings.tegrastats_command, settings.tegrastats_interval_ms
        ),
        "sysfs": lambda: SysfsCollector(settings.sysfs_root),
        "host": lambda: HostCollector(settings.process_names, settings.disk_mountpoints),
    }
    return [factories[name]() for name in dict.fromkeys(settings.collectors)]


class ExporterServer:
    """``/metrics`` (the last sample) and ``/health`` on a thread; ``port`` once started."""

    def __init__(self, settings: ExporterSettings, sources: list[Source] | None = None) -> None:
        self.settings = settings
        self.sampler = Sampler(sources or build_sources(settings), settings.interval_seconds)
        self.registry = CollectorRegistry()
        self.registry.register(self.sampler.collector())
        self._http: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._http is not None, "start() first"
        return int(self._http.server_address[1])

    def render(self) -> bytes:
        return generate_latest(self.registry) + render_triton_counters(self.sampler).encode()

    def start(self) -> ExporterServer:
        self.sampler.start()
        self._http = ThreadingHTTPServer((self.settings.host, self.settings.port), _handler(self))
        self._http.daemon_threads = True
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        self.sampler.stop()


def _handler(server: ExporterServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._reply(200, server.render(), CONTENT_TYPE_LATEST)
            elif path == "/health":
                self._reply(200, b"ok\n", "text/plain")
            else:
                self._reply(404, b"not found: try /metrics\n", "text/plain")

        def _reply(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # scrapes every few seconds: no access log

    return Handler
