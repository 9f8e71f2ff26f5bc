"""One REST inference, from the request to the answer's bytes: the one place it is done.

Both the FastAPI route (``V2Routes.infer``) and the lean ASGI path
(:mod:`mlinfer.gateway.fast_infer`) call :class:`InferCall`, so credentials, size limits,
decoding, priority, tracing, the access log and the cache header are the same whichever
served the request; only the routing and the response object differ.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from opentelemetry import trace
from starlette.requests import Request

from mlinfer.auth.identity import Scope
from mlinfer.core.errors import REQUEST_ID_HEADER
from mlinfer.core.parameters import priority_header
from mlinfer.core.types import HttpBody, InferRequest
from mlinfer.dataplane import CACHE_HIT_PARAMETER, DataPlane
from mlinfer.gateway.body import read_body
from mlinfer.gateway.codec import HEADER_LENGTH, decode_infer_request, encode_infer_response
from mlinfer.gateway.security import caller
from mlinfer.observability.tracing import trace_headers
from mlinfer.transport.access_log import AccessLog, SpanInfo, StatusNames
from mlinfer.transport.policy import RequestPolicy

HTTP_STATUSES = StatusNames(
    ok=200,
    internal=500,
    cancelled=499,  # nginx's "client closed request": nobody received an answer
    error=lambda exc: exc.status.value,
    span_attribute="http.response.status_code",
)
INFER_ROUTE = "/v2/models/{model}/infer"
VERSION_INFER_ROUTE = "/v2/models/{model}/versions/{version}/infer"
_SPANS = {
    route: SpanInfo(f"POST {route}", {"http.request.method": "POST", "http.route": route})
    for route in (INFER_ROUTE, VERSION_INFER_ROUTE)
}


def version_text(version: int | None) -> str:
    """Versions in REST paths are digits only, as Triton routes them (others are 404)."""
    return "" if version is None else str(version)


def declared_header_length(headers: Mapping[str, str]) -> int | None:
    """The binary extension's JSON header length, once the decoder has accepted it."""
    value = headers.get(HEADER_LENGTH)
    return None if value is None else int(value)


def apply_priority_header(request: InferRequest, header: str | None) -> None:
    """``X-Priority`` maps to the ``priority`` parameter unless the body sets one."""
    if header is None or "priority" in request.parameters:
        return
    request.priority = priority_header(header)


@dataclass(frozen=True)
class InferAnswer:
    """A successful inference's body, media type and headers (HTTP names)."""

    body: bytes
    media_type: str
    headers: dict[str, str]


class InferCall:
    def __init__(
        self,
        dataplane: DataPlane,
        tracer: trace.Tracer,
        policy: RequestPolicy,
        access: AccessLog,
        limit: int,
    ) -> None:
        self._dp = dataplane
        self._tracer = tracer
        self._policy = policy
        self._access = access
        self._limit = limit

    async def __call__(self, request: Request, model: str, version: int | None) -> InferAnswer:
        """Serve one inference; an :class:`MLInferError` leaves with the request id on it."""
        span = _SPANS[INFER_ROUTE if version is None else VERSION_INFER_ROUTE]
        headers = request.headers
        with self._access.entry(
            self._tracer,
            span,
            headers,
            model,
            version_text(version),
            headers.get(REQUEST_ID_HEADER, ""),
        ) as entry:
            identity = await self._policy.authorize(caller(request), Scope.INFER, model)
            entry.identity = identity.subject
            body = await read_body(request, self._limit)
            entry.request = infer_request = decode_infer_request(
                model, version_text(version), body, headers.get(HEADER_LENGTH)
            )
            # Valid once decoded: a backend that forwards REST bodies may send it unchanged.
            infer_request.http_body = HttpBody(body, declared_header_length(headers))
            apply_priority_header(infer_request, headers.get("x-priority"))
            infer_request.trace_headers = trace_headers(headers)
            infer_request.route_headers, infer_request.subject = headers, identity.subject
            entry.response = response = await self._dp.infer(infer_request)
            if response.http_body is not None:  # forwarded: the answer's bytes as they came
                payload, header_length = response.http_body.data, response.http_body.header_length
            else:
                payload, header_length = encode_infer_response(response, infer_request)
            out = {REQUEST_ID_HEADER: entry.request_id}
            if header_length is not None:
                out[HEADER_LENGTH] = str(header_length)
            if response.parameters.get(CACHE_HIT_PARAMETER):
                out["X-Cache"] = "HIT"
            media = "application/json" if header_length is None else "application/octet-stream"
            return InferAnswer(payload, media, out)
