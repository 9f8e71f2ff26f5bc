"""Request bodies: the size limit while reading, and every Content-Encoding member decoded."""

from __future__ import annotations

import asyncio
import gzip
import zlib

import pytest
from starlette.requests import Request
from starlette.types import Message

from mlinfer.core.errors import InvalidInputError, PayloadTooLargeError
from mlinfer.gateway.body import read_body


def _request(body: bytes, encoding: str | None = None, chunk: int = 1 << 20) -> Request:
    headers = [] if encoding is None else [(b"content-encoding", encoding.encode())]
    pieces = [body[i : i + chunk] for i in range(0, len(body), chunk)] or [b""]

    async def receive() -> Message:
        piece = pieces.pop(0)
        return {"type": "http.request", "body": piece, "more_body": bool(pieces)}

    return Request({"type": "http", "method": "POST", "headers": headers}, receive)


def _read(body: bytes, encoding: str | None = None, limit: int = 1 << 20, **kw: int) -> bytes:
    return asyncio.run(read_body(_request(body, encoding, **kw), limit))


def test_gzip_members_are_all_decoded() -> None:
    # RFC 1952 2.2: a gzip file is a series of members (e.g. `cat a.gz b.gz`).
    body = gzip.compress(b'{"a": ') + gzip.compress(b"[1, 2]") + gzip.compress(b"}")
    assert _read(body, "gzip") == b'{"a": [1, 2]}'


def test_limit_covers_all_members_together() -> None:
    member = gzip.compress(b" " * 600)
    assert len(_read(member * 2, "gzip", limit=1200)) == 1200
    with pytest.raises(PayloadTooLargeError, match="decompressed"):
        _read(member * 3, "gzip", limit=1200)


def test_truncated_and_trailing_garbage_are_refused() -> None:
    whole = gzip.compress(b"x" * 1000)
    with pytest.raises(InvalidInputError, match="truncated gzip"):
        _read(whole[:-6], "gzip")
    with pytest.raises(InvalidInputError, match="not valid gzip"):
        _read(whole + b"garbage!", "gzip")
    stream = zlib.compress(b"payload")
    assert _read(stream, "deflate") == b"payload"
    with pytest.raises(InvalidInputError, match="after the end of its deflate stream"):
        _read(stream + stream, "deflate")


def test_limit_applies_while_reading_without_content_length() -> None:
    # No Content-Length (chunked): the reader stops at the limit, it does not buffer it all.
    with pytest.raises(PayloadTooLargeError, match="exceeds the limit of 4096"):
        _read(b"x" * 100_000, limit=4096, chunk=1024)
