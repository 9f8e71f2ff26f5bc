"""One inference as every transport records it: its server span, its request id, and its
access-log line, with the same fields and outcomes on every transport.

Each transport names statuses its own way (REST: 200/404/500, gRPC: OK/NOT_FOUND/INTERNAL)
in ``status``; ``code`` is the one vocabulary for all of them (OK, INVALID_ARGUMENT, NOT_FOUND,
INTERNAL, CANCELLED, ...), so one query finds a failure whatever the transport. The span
starts before credentials are checked or the body is decoded, so a request that fails there
has one too; its name is the route template, never a model name.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Status as SpanStatus
from opentelemetry.trace import StatusCode as SpanStatusCode

from mlinfer.core.errors import MLInferError
from mlinfer.core.types import InferRequest, InferResponse
from mlinfer.dataplane import CACHE_HIT_PARAMETER
from mlinfer.observability.logs import ACCESS_LOGGER, log_request
from mlinfer.observability.tracing import server_span
from mlinfer.settings import Settings

Status = int | str


@dataclass(frozen=True)
class StatusNames:
    """How a transport writes each outcome in its log lines and spans."""

    ok: Status
    internal: Status  # an unexpected exception
    cancelled: Status  # the caller went away before the answer
    error: Callable[[MLInferError], Status]
    span_attribute: str  # the semantic-convention attribute the status goes in
    span_value: Callable[[Status], int] = int


@dataclass(frozen=True)
class SpanInfo:
    """The server span of one call: its name (a route template) and its fixed attributes."""

    name: str
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class AccessEntry:
    """What a transport learns while it serves one inference; logged when it ends."""

    model: str
    version: str | None
    fallback_id: str  # the transport's id (a header, or one made here) until a body names one
    identity: str | None = None
    request: InferRequest | None = None
    response: InferResponse | None = None

    @property
    def request_id(self) -> str:
        """The request's own id (Triton's ``id`` field) when it has one."""
        return (self.request.id if self.request is not None else "") or self.fallback_id

    @property
    def cache_hit(self) -> bool:
        return bool(self.response and self.response.parameters.get(CACHE_HIT_PARAMETER))


class AccessLog:
    def __init__(
        self,
        protocol: str,
        statuses: StatusNames,
        *,
        enabled: bool,
        logger: logging.Logger | None = None,
    ) -> None:
        self._protocol = protocol
        self._statuses = statuses
        self._enabled = enabled
        self._logger = logger or logging.getLogger(ACCESS_LOGGER)

    @classmethod
    def from_settings(cls, protocol: str, statuses: StatusNames, settings: Settings) -> AccessLog:
        return cls(protocol, statuses, enabled=settings.access_log)

    @contextmanager
    def entry(
        self,
        tracer: trace.Tracer,
        span: SpanInfo,
        headers: Mapping[str, str],
        model: str,
        version: str = "",
        request_id: str = "",
    ) -> Iterator[AccessEntry]:
        """The call's span around the block, then its log line, whatever the outcome.

        An :class:`MLInferError` leaving the block carries the request id out to the
        transport's error mapping.
        """
        start = time.perf_counter()
        entry = AccessEntry(model, version or None, request_id or uuid.uuid4().hex)
        statuses = self._statuses
        status, code, error = statuses.internal, "INTERNAL", "internal error"
        with server_span(tracer, span.name, headers, self._protocol) as current:
            current.set_attributes({**span.attributes, "mlinfer.model": model})
            try:
                yield entry
                status, code, error = statuses.ok, "OK", ""
            except MLInferError as exc:
                status, code, error = statuses.error(exc), exc.status.name, exc.message
                exc.request_id = entry.request_id
                raise
            except asyncio.CancelledError:
                status, code, error = statuses.cancelled, "CANCELLED", "cancelled by the client"
                raise
            finally:
                current.set_attribute(statuses.span_attribute, statuses.span_value(status))
                current.set_attribute("mlinfer.request_id", entry.request_id)
                if entry.version:
                    current.set_attribute("mlinfer.model_version", entry.version)
                if code != "OK":
                    current.set_status(SpanStatus(SpanStatusCode.ERROR, error))
                trace_id = current.get_span_context().trace_id
                if self._enabled:
                    latency_ms = (time.perf_counter() - start) * 1000
                    self._write(entry, status, code, error, latency_ms, trace_id)

    def _write(
        self,
        entry: AccessEntry,
        status: Status,
        code: str,
        error: str,
        latency_ms: float,
        trace_id: int,
    ) -> None:
        request, response = entry.request, entry.response
        log_request(
            self._logger,
            protocol=self._protocol,
            request_id=entry.request_id,
            trace_id=f"{trace_id:032x}" if trace_id else None,
            model=entry.model,
            version=response.model_version if response else entry.version,
            status=status,
            code=code,
            error=error or None,  # a message, never the credentials (errors echo none)
            latency_ms=round(latency_ms, 3),
            cache_hit=entry.cache_hit,
            priority=request.priority if request else None,
            identity=entry.identity,
        )
