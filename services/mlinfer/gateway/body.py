"""Reading request bodies within the configured size limit, decompressing if asked."""

from __future__ import annotations

import zlib

from starlette.requests import Request

from mlinfer.core.errors import InvalidInputError, PayloadTooLargeError, UnsupportedError
from mlinfer.core.parameters import ascii_digits


def _too_large(size: int | str, limit: int, setting: str) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"request body of {size} bytes exceeds the limit of {limit} bytes ({setting})"
    )


async def read_body(
    request: Request, limit: int, setting: str = "MLINFER_MAX_REQUEST_BYTES"
) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and ascii_digits(declared) and int(declared) > limit:
        raise _too_large(declared, limit, setting)
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise _too_large(f"more than {limit}", limit, setting)
        chunks.append(chunk)
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding in ("", "identity"):
        return body
    return _decompress(body, encoding, limit, setting)


def _decompress(body: bytes, encoding: str, limit: int, setting: str) -> bytes:
    wbits = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}.get(encoding)
    if wbits is None:
        raise UnsupportedError(
            f"unsupported Content-Encoding '{encoding}' (supported: gzip, deflate)"
        )
    if not body:
        return body
    # RFC 1952: a gzip body is a series of members, each decoded in turn; deflate is one
    # stream. The limit bounds the sum of what all members decode to.
    parts: list[bytes] = []
    produced = 0
    while True:
        decompressor = zlib.decompressobj(wbits)
        try:
            part = decompressor.decompress(body, limit + 1 - produced)
        except zlib.error as exc:
            raise InvalidInputError(f"request body is not valid {encoding} data: {exc}") from None
        produced += len(part)
        if produced > limit or decompressor.unconsumed_tail:
            raise _too_large(f"more than {limit} (decompressed)", limit, setting)
        if not decompressor.eof:
            raise InvalidInputError(f"request body is truncated {encoding} data")
        parts.append(part)
        body = decompressor.unused_data
        if not body:
            return parts[0] if len(parts) == 1 else b"".join(parts)
        if encoding != "gzip":
            raise InvalidInputError("request body has data after the end of its deflate stream")
