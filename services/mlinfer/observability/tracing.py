"""OpenTelemetry: one TracerProvider per process, built from settings and passed down.

W3C ``traceparent`` is accepted from clients and injected into calls to Triton, so one
trace spans client -> mlinfer -> Triton.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

import mlinfer
from mlinfer.observability.settings import TracingSettings

_PROPAGATOR = TraceContextTextMapPropagator()


def create_tracer_provider(
    settings: TracingSettings, exporter: SpanExporter | None = None
) -> TracerProvider | None:
    """None when tracing is off (the default): spans then cost nothing."""
    if exporter is None:
        exporter = _exporter(settings)
    if exporter is None:
        return None
    provider = TracerProvider(
        resource=Resource.create(
            {"service.name": settings.service_name, "service.version": mlinfer.__version__}
        ),
        sampler=ParentBased(TraceIdRatioBased(settings.sample_ratio)),
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def _exporter(settings: TracingSettings) -> SpanExporter | None:
    kind = settings.exporter
    if kind == "none":
        return None
    if kind == "console":
        return ConsoleSpanExporter()
    if kind == "otlp-grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=settings.endpoint or "localhost:4317", insecure=True)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HttpExporter,
    )

    return HttpExporter(endpoint=settings.endpoint or "http://localhost:4318/v1/traces")


def get_tracer(provider: TracerProvider | None) -> trace.Tracer:
    if provider is None:
        return trace.NoOpTracer()
    return provider.get_tracer("mlinfer", mlinfer.__version__)


def extract_context(headers: Mapping[str, str]) -> otel_context.Context:
    """Context from incoming W3C trace headers (``traceparent``, ``tracestate``)."""
    return _PROPAGATOR.extract(carrier=dict(headers))


def inject_headers() -> dict[str, str]:
    """W3C headers for the current span, for the call to the backend."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier


TRACE_HEADERS = ("traceparent", "tracestate")


def trace_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The W3C trace headers of an incoming request (passed on even when tracing is off)."""
    return {k: headers[k] for k in TRACE_HEADERS if k in headers}


@contextmanager
def server_span(
    tracer: trace.Tracer, name: str, headers: Mapping[str, str], protocol: str
) -> Iterator[trace.Span]:
    """The transport's span, continuing the client's trace when it sent ``traceparent``."""
    carrier = trace_headers(headers)
    with tracer.start_as_current_span(
        name,
        context=extract_context(carrier) if carrier else None,
        kind=trace.SpanKind.SERVER,
        attributes={"rpc.system" if protocol == "grpc" else "http.scheme": protocol},
    ) as span:
        yield span


def record_span(
    tracer: trace.Tracer,
    name: str,
    start_ns: int,
    end_ns: int,
    attributes: Mapping[str, Any] | None = None,
) -> None:
    """A span for work that happened elsewhere (e.g. a batch on a worker thread)."""
    span = tracer.start_span(name, start_time=start_ns, attributes=dict(attributes or {}))
    span.end(end_time=end_ns)


def wall_ns(monotonic_ns: int) -> int:
    """Convert a monotonic timestamp to wall-clock ns (spans use wall time)."""
    return time.time_ns() - (time.monotonic_ns() - monotonic_ns)
