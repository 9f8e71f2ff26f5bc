"""Malformed HTTP is answered 400 with Triton's ``{"error": ...}`` by both uvicorn parsers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import orjson
import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from mlinfer.gateway.http_protocol import JsonErrorH11Protocol, http_protocol

GARBAGE = [
    b"\x00\x01\x02 not http at all\r\n\r\n",
    b"GET /v2 HTTP/1.1\r\nHost: x\r\nBad Header Without Colon\r\n\r\n",
    b"GET /v2 HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
]


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _app(scope: Scope, receive: Receive, send: Send) -> None:
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
    )
    await send({"type": "http.response.body", "body": b"ok"})


async def _exchange(protocol: type[asyncio.Protocol], payload: bytes) -> bytes:
    config = uvicorn.Config(
        _app, host="127.0.0.1", port=0, http=protocol, lifespan="off", log_config=None,
        loop="none",
    )  # fmt: skip
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not task.done(), "uvicorn exited before it started"
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(payload)
        await writer.drain()
        answer = await reader.read()  # the server closes the connection after its 400
        writer.close()
        return answer
    finally:
        server.should_exit = True
        await task


def _parsers() -> list[type[asyncio.Protocol]]:
    parsers: list[type[asyncio.Protocol]] = [JsonErrorH11Protocol]
    with contextlib.suppress(RuntimeError):
        parsers.append(http_protocol("httptools"))
    return parsers


@pytest.mark.parametrize("protocol", _parsers(), ids=lambda p: p.__name__)
@pytest.mark.parametrize("payload", GARBAGE, ids=["binary", "header", "length"])
async def test_malformed_requests_get_a_json_400(
    protocol: type[asyncio.Protocol], payload: bytes
) -> None:
    answer = await _exchange(protocol, payload)
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 400 Bad Request"
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    assert headers["content-type"] == "application/json"
    assert headers["connection"] == "close"
    assert int(headers["content-length"]) == len(body)
    assert orjson.loads(body) == {"error": "Invalid HTTP request received."}


@pytest.mark.parametrize("protocol", _parsers(), ids=lambda p: p.__name__)
async def test_well_formed_requests_still_reach_the_app(protocol: type[asyncio.Protocol]) -> None:
    answer = await _exchange(protocol, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 OK") and answer.endswith(b"ok")


def test_auto_picks_httptools_when_installed() -> None:
    pytest.importorskip("httptools", reason="httptools (extra 'fast') is not installed")
    assert http_protocol().__name__ == "JsonErrorHttpToolsProtocol"
    assert http_protocol("h11") is JsonErrorH11Protocol
