"""Lean clients for the load generator: each one sends a pre-encoded request and waits for the
reply, doing as little Python work per call as possible so that the client is not what limits
the measurement on a small machine.

* HTTP: one keep-alive HTTP/1.1 connection per concurrent request slot (asyncio streams); the
  request bytes are built once; the reply is checked for status 200 and read to its end.
* gRPC: one ``grpc.aio`` channel per process, ``ModelInfer`` called with the serialized
  request bytes and the reply kept as bytes (no protobuf work per call).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Protocol

from mlinfer.bench.inputs import Payload

GRPC_INFER_METHOD = "/inference.GRPCInferenceService/ModelInfer"
_MAX_MESSAGE = 256 * 1024 * 1024


class RequestError(Exception):
    """The server answered with an error (or the transport failed)."""


class Sender(Protocol):
    async def send(self) -> None: ...

    async def close(self) -> None: ...


class SenderFactory(Protocol):
    async def open(self) -> Sender: ...

    async def close(self) -> None: ...


def split_host_port(url: str) -> tuple[str, int]:
    """``host:port`` (an ``http://`` prefix is tolerated) -> (host, port)."""
    url = url.split("://", 1)[-1].rstrip("/")
    host, _, port = url.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"expected host:port, got {url!r}")
    return host.strip("[]"), int(port)


def http_request_bytes(host: str, port: int, payload: Payload) -> bytes:
    head = [
        f"POST {payload.path} HTTP/1.1",
        f"Host: {host}:{port}",
        f"Content-Length: {len(payload.body)}",
        *(f"{k}: {v}" for k, v in payload.headers),
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload.body


def parse_response_head(head: bytes) -> tuple[int, int | None, bool]:
    """(status, content length or None, chunked) from a response head (up to the blank line)."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise RequestError(f"malformed HTTP status line: {lines[0]!r}")
    length: int | None = None
    chunked = False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        key = name.strip().lower()
        if key == "content-length":
            length = int(value.strip())
        elif key == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    return int(parts[1]), length, chunked


class HttpSender:
    """One keep-alive connection; ``send`` posts the same request and reads the reply."""

    def __init__(self, host: str, port: int, request: bytes) -> None:
        self._host, self._port, self._request = host, port, request
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _connect(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(
            self._host, self._port, limit=1 << 20
        )

    async def send(self) -> None:
        if self._writer is None or self._writer.is_closing():
            await self._connect()
        assert self._reader is not None and self._writer is not None
        try:
            self._writer.write(self._request)
            head = await self._reader.readuntil(b"\r\n\r\n")
            status, length, chunked = parse_response_head(head)
            if chunked:
                body = await self._read_chunked()
            elif length is not None:
                body = await self._reader.readexactly(length)
            else:
                body = await self._reader.read()  # until the server closes
                await self.close()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            await self.close()
            raise RequestError(f"{type(exc).__name__}: {exc}") from None
        if status != 200:
            raise RequestError(f"HTTP {status}: {body[:200].decode('utf-8', 'replace')}")

    async def _read_chunked(self) -> bytes:
        assert self._reader is not None
        parts: list[bytes] = []
        while True:
            size = int((await self._reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
            if size == 0:
                await self._reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await self._reader.readexactly(size + 2))

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
        self._writer = self._reader = None


class HttpFactory:
    def __init__(self, url: str, payload: Payload) -> None:
        self._host, self._port = split_host_port(url)
        self._request = http_request_bytes(self._host, self._port, payload)

    async def open(self) -> Sender:
        sender = HttpSender(self._host, self._port, self._request)
        await sender._connect()
        return sender

    async def close(self) -> None:
        return None


class GrpcSender:
    def __init__(self, call: object, request: bytes, timeout_s: float | None) -> None:
        self._call = call
        self._request = request
        self._timeout = timeout_s

    async def send(self) -> None:
        import grpc

        try:
            await self._call(self._request, timeout=self._timeout)  # type: ignore[operator]
        except grpc.aio.AioRpcError as exc:
            raise RequestError(f"gRPC {exc.code().name}: {exc.details()}") from None

    async def close(self) -> None:
        return None


class GrpcFactory:
    """One channel for all slots of the process (HTTP/2 multiplexes them)."""

    def __init__(self, url: str, payload: Payload, timeout_s: float | None = None) -> None:
        import grpc

        host, port = split_host_port(url)
        self._channel = grpc.aio.insecure_channel(
            f"{host}:{port}",
            options=[
                ("grpc.max_send_message_length", _MAX_MESSAGE),
                ("grpc.max_receive_message_length", _MAX_MESSAGE),
            ],
        )
        # No (de)serializers: the request goes out as the bytes given, the reply stays bytes.
        self._call = self._channel.unary_unary(GRPC_INFER_METHOD)
        self._request = payload.body
        self._timeout = timeout_s

    async def open(self) -> Sender:
        return GrpcSender(self._call, self._request, self._timeout)

    async def close(self) -> None:
        await self._channel.close()
