"""uvicorn's HTTP/1.1 protocols, answering malformed requests in Triton's error shape.

uvicorn answers a request its parser rejects (bad request line, header or framing) itself,
before any ASGI app runs, with a plain-text ``Invalid HTTP request received.``. The two
protocol classes below change only that answer: the same 400 and closed connection, with
``{"error": ...}`` as every other error of the API has. The httptools one also writes each
response in one write (:mod:`mlinfer.gateway.one_write`).
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any, Protocol

import orjson
from uvicorn.protocols.http.h11_impl import H11Protocol

from mlinfer.gateway.one_write import join_head_and_body


class _Transporting(Protocol):
    transport: asyncio.Transport
    server_state: Any


def _send_json_400(protocol: _Transporting, message: str) -> None:
    body = orjson.dumps({"error": message})
    head = [b"HTTP/1.1 400 Bad Request\r\n"]
    for name, value in protocol.server_state.default_headers:
        head.append(name + b": " + value + b"\r\n")
    head.append(b"content-type: application/json\r\n")
    head.append(b"content-length: " + str(len(body)).encode("ascii") + b"\r\n")
    head.append(b"connection: close\r\n\r\n")
    protocol.transport.write(b"".join(head) + body)
    protocol.transport.close()


class JsonErrorH11Protocol(H11Protocol):
    def send_400_response(self, msg: str) -> None:
        _send_json_400(self, msg)


@functools.cache
def _httptools_protocol() -> type[asyncio.Protocol] | None:
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # httptools is in the "fast" extra
        return None

    class JsonErrorHttpToolsProtocol(HttpToolsProtocol):
        def send_400_response(self, msg: str) -> None:
            _send_json_400(self, msg)

        def _start_asgi_task(self, cycle: Any, app: Any) -> None:
            join_head_and_body(cycle)  # one write per response
            super()._start_asgi_task(cycle, app)

    return JsonErrorHttpToolsProtocol


def http_protocol(parser: str = "auto") -> type[asyncio.Protocol]:
    """The protocol for ``parser`` ("h11", "httptools", or "auto" as uvicorn picks:
    httptools when installed, else h11), with the JSON 400."""
    if parser == "h11":
        return JsonErrorH11Protocol
    protocol = _httptools_protocol()
    if protocol is None:
        if parser == "httptools":
            raise RuntimeError("the httptools parser is not installed (extra 'fast')")
        return JsonErrorH11Protocol
    return protocol
