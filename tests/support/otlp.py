"""An OTLP/HTTP trace receiver on loopback: what a collector would get, decoded."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest


class OtlpReceiver:
    """Collects the spans exported to it over OTLP/HTTP (JSON as Triton sends it, or
    protobuf as the OpenTelemetry SDK does) on a loopback port."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if "json" in self.headers.get("Content-Type", ""):
                    receiver._add(body)  # Triton's export
                else:
                    receiver._add_protobuf(body)  # mlinfer's (the OpenTelemetry SDK)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1/traces"

    def _add(self, body: bytes) -> None:
        try:
            doc = json.loads(body)
        except ValueError:
            return
        spans = [
            span
            for resource in doc.get("resourceSpans", [])
            for scope in resource.get("scopeSpans", [])
            for span in scope.get("spans", [])
        ]
        with self._lock:
            self.spans.extend(spans)

    def _add_protobuf(self, body: bytes) -> None:
        request = ExportTraceServiceRequest.FromString(body)
        spans = [
            {"name": span.name, "traceId": span.trace_id.hex()}
            for resource in request.resource_spans
            for scope in resource.scope_spans
            for span in scope.spans
        ]
        with self._lock:
            self.spans.extend(spans)

    def span_names(self) -> list[str]:
        with self._lock:
            return [str(s.get("name")) for s in self.spans]

    def spans_of_trace(self, trace_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [s for s in self.spans if s.get("traceId") == trace_id]

    def __enter__(self) -> OtlpReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
