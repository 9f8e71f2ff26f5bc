"""A real server whose spans land in memory, and the request both observability suites send."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mlinfer.settings import Settings
from tests.support.servers import ServerThread

# The `simple` sample model (two INT32 [1,16] inputs) in the JSON form of the v2 protocol.
SIMPLE_REQUEST = {
    "inputs": [
        {"name": n, "datatype": "INT32", "shape": [1, 16], "data": [1] * 16}
        for n in ("INPUT0", "INPUT1")
    ]
}


@contextmanager
def traced_server(settings: Settings) -> Iterator[tuple[ServerThread, InMemorySpanExporter]]:
    """REST and gRPC on one server; every finished span is kept by the returned exporter."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with ServerThread(settings, rest=True, grpc=True, tracer_provider=provider) as srv:
        yield srv, exporter
