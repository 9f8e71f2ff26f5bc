"""Each response leaves the httptools protocol in one socket write (head and body together).

The server is real uvicorn on a loopback socket; the client is a blocking socket in a thread,
so every write recorded on asyncio's socket transport is the server's.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from asyncio import selector_events
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from mlinfer.gateway.http_protocol import http_protocol

pytest.importorskip("httptools", reason="httptools (extra 'fast') is not installed")


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _app(scope: Scope, receive: Receive, send: Send) -> None:
    """``/stream`` answers in three chunks; anything else with one 11-byte body."""
    if scope["path"] == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for chunk in (b"one", b"two"):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"three"})
        return
    body = b"hello world"
    headers = [(b"content-length", str(len(body)).encode()), (b"x-kind", b"small")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    recorded: list[bytes] = []
    original = selector_events._SelectorSocketTransport.write

    def recording(self: Any, data: Any) -> None:
        recorded.append(bytes(data))
        original(self, data)

    monkeypatch.setattr(selector_events._SelectorSocketTransport, "write", recording)
    return recorded


def _talk(port: int, payload: bytes) -> bytes:
    """Send ``payload``, read until the server closes (the last request says close)."""
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(payload)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


async def _exchange(payload: bytes) -> bytes:
    config = uvicorn.Config(
        _app, host="127.0.0.1", port=0, http=http_protocol("httptools"), lifespan="off",
        log_config=None, loop="none",
    )  # fmt: skip
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not task.done(), "uvicorn exited before it started"
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        return await asyncio.to_thread(_talk, port, payload)
    finally:
        server.should_exit = True
        await task


def _request(method: str, path: str, close: bool = True) -> bytes:
    connection = b"Connection: close\r\n" if close else b""
    return f"{method} {path} HTTP/1.1\r\nHost: x\r\n".encode() + connection + b"\r\n"


async def test_a_small_response_is_one_write(writes: list[bytes]) -> None:
    answer = await _exchange(_request("GET", "/"))
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.endswith(b"\r\n\r\nhello world")
    assert writes == [answer]


async def test_pipelined_requests_get_one_write_each(writes: list[bytes]) -> None:
    answer = await _exchange(_request("GET", "/a", close=False) + _request("GET", "/b"))
    assert answer.count(b"HTTP/1.1 200 OK") == 2
    assert len(writes) == 2 and b"".join(writes) == answer
    assert all(w.startswith(b"HTTP/1.1 200 OK") and w.endswith(b"hello world") for w in writes)


async def test_a_head_response_still_sends_its_head(writes: list[bytes]) -> None:
    answer = await _exchange(_request("HEAD", "/"))
    assert answer.startswith(b"HTTP/1.1 200 OK") and b"x-kind: small" in answer
    assert answer.endswith(b"\r\n\r\n")  # no body for HEAD
    assert writes == [answer]


async def test_a_streamed_response_joins_only_its_first_chunk(writes: list[bytes]) -> None:
    answer = await _exchange(_request("GET", "/stream"))
    assert answer.endswith(b"3\r\none\r\n3\r\ntwo\r\n5\r\nthree\r\n0\r\n\r\n")
    assert len(writes) == 3 and b"".join(writes) == answer
    assert writes[0].startswith(b"HTTP/1.1 200 OK") and writes[0].endswith(b"3\r\none\r\n")
