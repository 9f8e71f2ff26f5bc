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
    decompressor = zlib.decompressobj(wbits)
    try:
        out = decompressor.decompress(body, limit + 1)
    except zlib.error as exc:
        raise InvalidInputError(f"request body is not valid {encoding} data: {exc}") from None
    if len(out) > limit or decompressor.unconsumed_tail:
        raise _too_large(f"more than {limit} (decompressed)", limit, setting)
    return out
