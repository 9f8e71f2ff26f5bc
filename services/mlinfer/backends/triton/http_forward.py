"""REST inferences forwarded to Triton's HTTP endpoint as the client's bytes.

The REST half of :mod:`mlinfer.backends.triton.passthrough`: the body the client sent goes
to Triton's own REST endpoint over pooled keep-alive connections, and Triton's answer comes
back byte for byte; only its JSON header is read (the version that served, for metrics and
the access log). Triton's error answers keep their message and map to mlinfer's error
classes by status; failures to reach Triton name it and its address, as on the gRPC path.
"""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import quote

import aiohttp

from mlinfer.backends.triton.errors import TritonUnavailableError, from_triton_http
from mlinfer.backends.triton.passthrough import forwardable
from mlinfer.core import json_text
from mlinfer.core.errors import DeadlineExceededError, InternalError
from mlinfer.core.model_spec import ModelSpec
from mlinfer.core.types import HEADER_LENGTH, HttpBody, InferRequest, InferResponse

# Triton: "receiving FP16 data via JSON is not supported" (BF16 likewise).
_JSON_REFUSED = frozenset({"FP16", "BF16"})


def http_forwardable(spec: ModelSpec, request: InferRequest) -> bool:
    """:func:`forwardable`, and no half-precision inputs: mlinfer accepts those as JSON
    numbers and Triton refuses them (whether they came as JSON is not kept once decoded, so
    binary ones take the gRPC path too)."""
    return forwardable(spec, request) and not any(
        t.datatype in _JSON_REFUSED for t in request.inputs
    )


class TritonHttpForwarder:
    """One pooled HTTP client for Triton's REST endpoint at ``url`` (``host:port``)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        """Created on first use, inside the serving event loop."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                f"http://{self.url}",
                # No cap of its own: admission bounds how many inferences are in flight.
                connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=30),
                skip_auto_headers=("User-Agent", "Accept-Encoding"),
                auto_decompress=False,
            )
        return self._session

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            with contextlib.suppress(Exception):
                await session.close()

    async def infer(self, request: InferRequest, body: HttpBody, timeout_s: float) -> InferResponse:
        path = f"/v2/models/{quote(request.model_name, safe='')}"
        if request.model_version:
            path += f"/versions/{request.model_version}"
        headers = dict(request.trace_headers)
        if body.header_length is None:
            headers["Content-Type"] = "application/json"
        else:
            headers["Content-Type"] = "application/octet-stream"
            headers[HEADER_LENGTH] = str(body.header_length)
        try:
            async with self._get_session().post(
                path + "/infer",
                data=body.data,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=timeout_s),
            ) as answer:
                payload = await answer.read()
                status, length = answer.status, answer.headers.get(HEADER_LENGTH)
        except asyncio.TimeoutError:
            raise DeadlineExceededError(
                f"Triton at {self.url} did not answer within the deadline of {timeout_s:.3g} s"
            ) from None
        except aiohttp.ClientError as exc:
            raise TritonUnavailableError(self.url, str(exc) or type(exc).__name__) from None
        if status != 200:
            raise from_triton_http(status, payload)
        return _response(request, payload, length)


def _response(request: InferRequest, payload: bytes, length: str | None) -> InferResponse:
    header_length = int(length) if length else None
    try:
        head = json_text.loads(payload[:header_length] if header_length is not None else payload)
    except ValueError as exc:
        raise InternalError(f"Triton's inference answer is not valid JSON: {exc}") from None
    parameters = head.get("parameters")
    return InferResponse(
        model_name=str(head.get("model_name", request.model_name)),
        model_version=str(head.get("model_version", "")),
        outputs=[],
        id=str(head.get("id", "")),
        parameters=parameters if isinstance(parameters, dict) else {},
        http_body=HttpBody(payload, header_length),
    )
