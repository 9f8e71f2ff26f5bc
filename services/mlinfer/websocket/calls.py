"""One frame as one call: its span and access-log line, its authorization (scopes and rate
limits, per frame as per REST request), its metrics, and its error frame when it fails."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from opentelemetry import trace

from mlinfer.auth.identity import Scope
from mlinfer.core.errors import MLInferError
from mlinfer.observability.metrics import GatewayMetrics
from mlinfer.transport.access_log import AccessEntry, AccessLog, SpanInfo, StatusNames
from mlinfer.transport.failures import report_unexpected
from mlinfer.transport.policy import Caller, RequestPolicy
from mlinfer.websocket.flow import FlowCounters
from mlinfer.websocket.frames import Frame, Message, error_answer

PROTOCOL = "websocket"
# A frame's outcome in the REST vocabulary: error frames carry the HTTP status REST gives.
FRAME_STATUSES = StatusNames(
    ok=200,
    internal=500,
    cancelled=499,
    error=lambda exc: exc.status.value,
    span_attribute="mlinfer.websocket.status",
)

FrameBody = Callable[[Frame, AccessEntry, dict[str, int]], Awaitable[Message]]


@dataclass(frozen=True)
class StreamCall:
    """What every frame of one stream shares: who calls, which model version, how logged."""

    policy: RequestPolicy
    caller: Caller
    access: AccessLog
    tracer: trace.Tracer
    metrics: GatewayMetrics
    headers: Mapping[str, str]  # the handshake's (trace context)
    route: str
    stream_id: str
    model: str
    version: str  # pinned at the handshake

    async def frame(self, frame: Frame, counters: FlowCounters, body: FrameBody) -> Message:
        """``body``'s answer to ``frame``, or its error frame; never raises but cancellation."""
        start = time.perf_counter()
        fields = {"seq": frame.seq, "dropped": counters.dropped}
        span = SpanInfo(f"WS {self.route}", {"http.route": self.route, "url.scheme": "ws"})
        status = 500
        request_id = f"{self.stream_id}-{frame.seq}"
        try:
            with self.access.entry(
                self.tracer, span, self.headers, self.model, self.version, request_id
            ) as entry:
                identity = await self.policy.authorize(self.caller, Scope.INFER, self.model)
                entry.identity = identity.subject
                answer = await body(frame, entry, fields)
                status = 200
                return answer
        except asyncio.CancelledError:
            status = 499  # the client went away mid-inference
            raise
        except MLInferError as exc:
            status = exc.status.value
            return error_answer(exc, fields, exc.request_id or request_id)
        except Exception as exc:
            error = report_unexpected(exc, f"WS {self.route}")
            return error_answer(_Internal(error), fields, request_id)
        finally:
            self.metrics.requests.labels(PROTOCOL, self.route, str(status)).inc()
            self.metrics.latency.labels(PROTOCOL, self.route).observe(time.perf_counter() - start)


class _Internal(MLInferError):
    pass
