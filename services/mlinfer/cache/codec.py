"""Binary form of a cached response: compact, versioned, safe to read from a shared store.

Entries may live in a Redis that other programs can write to, so reading one must never run
code (no pickle) and must never fail the request: anything that does not parse exactly is
:class:`CorruptEntryError`, which the cache treats as a miss.

Layout (little-endian)::

    header  "MLRC" | u8 format (1) | u8 checksum kind | u16 output count | u64 checksum
    output  u16 name length | name (UTF-8) | u8 datatype length | datatype (ASCII)
            | u8 rank | rank x i64 dims | u64 payload length | pad to 8 | payload

The checksum covers everything after the header. Payloads are the tensors' wire bytes
(BYTES: the 4-byte length-prefixed framing of ``core.datatypes``) and start 8-byte aligned,
so decoded fixed-size tensors are zero-copy, read-only numpy views on the entry.
Only outputs are stored: the response's id, model and version come from the new request,
and tensor ``parameters`` are transport details the front end adds when it encodes.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from types import ModuleType

from mlinfer.core import datatypes
from mlinfer.core.errors import MLInferError
from mlinfer.core.tensors import tensor_from_bytes, tensor_to_bytes
from mlinfer.core.types import Tensor

_xxhash: ModuleType | None
try:
    import xxhash as _xxhash
except ImportError:  # pragma: no cover - exercised only where xxhash is absent
    _xxhash = None

MAGIC = b"MLRC"
FORMAT_VERSION = 1
_HEADER = struct.Struct("<4sBBHQ")
_U8 = struct.Struct("<B")
_U16 = struct.Struct("<H")
_U64 = struct.Struct("<Q")
_I64 = struct.Struct("<q")
_ALIGN = 8

# Checksum kinds: fast XXH3-64 when available, else CRC-32 (always in the stdlib). The kind is
# recorded so a reader without xxhash can still tell what it cannot verify (and miss).
CHECKSUM_CRC32 = 1
CHECKSUM_XXH3_64 = 2


class CorruptEntryError(ValueError):
    """The bytes are not an entry this code wrote: wrong magic, version, checksum or framing."""


def _checksum(kind: int, body: bytes | memoryview) -> int:
    if kind == CHECKSUM_XXH3_64 and _xxhash is not None:
        return int(_xxhash.xxh3_64_intdigest(body))
    if kind == CHECKSUM_CRC32:
        return zlib.crc32(body)
    raise CorruptEntryError(f"unsupported checksum kind {kind}")


def _default_checksum_kind() -> int:
    return CHECKSUM_XXH3_64 if _xxhash is not None else CHECKSUM_CRC32


def tensor_bytes(tensor: Tensor) -> bytes | memoryview:
    """``core.tensors.tensor_to_bytes``, plus tensors with no elements (shape with a 0)."""
    if tensor.datatype != "BYTES" and tensor.data.size == 0:
        return b""  # memoryview.cast refuses zero-length shapes
    return tensor_to_bytes(tensor)


def encode_outputs(outputs: Sequence[Tensor], checksum_kind: int | None = None) -> bytes:
    """Serialize output tensors (name, datatype, shape, raw bytes) into one entry."""
    if len(outputs) > 0xFFFF:
        raise ValueError(f"too many outputs to cache: {len(outputs)}")
    parts: list[bytes | memoryview] = []
    size = _HEADER.size
    for tensor in outputs:
        name = tensor.name.encode()
        dtype = tensor.datatype.encode("ascii")
        meta = [_U16.pack(len(name)), name, _U8.pack(len(dtype)), dtype]
        meta.append(_U8.pack(len(tensor.shape)))
        meta.extend(_I64.pack(d) for d in tensor.shape)
        payload = tensor_bytes(tensor)
        meta.append(_U64.pack(len(payload)))
        head = b"".join(meta)
        size += len(head)
        pad = -size % _ALIGN
        size += pad + len(payload)
        parts.extend((head, b"\x00" * pad, payload))
    body = b"".join(parts)
    kind = checksum_kind if checksum_kind is not None else _default_checksum_kind()
    header = _HEADER.pack(MAGIC, FORMAT_VERSION, kind, len(outputs), _checksum(kind, body))
    return header + body


def decode_outputs(entry: bytes) -> list[Tensor]:
    """Inverse of :func:`encode_outputs`; raises :class:`CorruptEntryError` on anything odd."""
    try:
        return _decode(entry)
    except CorruptEntryError:
        raise
    except (struct.error, UnicodeDecodeError, ValueError, MLInferError) as exc:
        raise CorruptEntryError(f"unreadable cache entry: {exc}") from None


def _decode(entry: bytes) -> list[Tensor]:
    if len(entry) < _HEADER.size:
        raise CorruptEntryError("cache entry shorter than its header")
    magic, version, kind, count, checksum = _HEADER.unpack_from(entry, 0)
    if magic != MAGIC:
        raise CorruptEntryError("not a mlinfer cache entry (bad magic)")
    if version != FORMAT_VERSION:
        raise CorruptEntryError(f"cache entry format {version}, this reader knows {FORMAT_VERSION}")
    view = memoryview(entry)
    if _checksum(kind, view[_HEADER.size :]) != checksum:
        raise CorruptEntryError("cache entry checksum mismatch")
    reader = _Reader(view, _HEADER.size)
    outputs: list[Tensor] = []
    for _ in range(count):
        name = bytes(reader.take(reader.u(_U16))).decode()
        dtype = bytes(reader.take(reader.u(_U8))).decode("ascii")
        if dtype not in datatypes.BY_NAME:
            raise CorruptEntryError(f"unknown datatype '{dtype}' in cache entry")
        shape = tuple(reader.u(_I64) for _ in range(reader.u(_U8)))
        length = reader.u(_U64)
        reader.take(-reader.offset % _ALIGN)
        outputs.append(tensor_from_bytes(name, dtype, shape, reader.take(length)))
    if reader.offset != len(view):
        raise CorruptEntryError("trailing bytes after the last output")
    return outputs


class _Reader:
    """Bounds-checked cursor over the entry."""

    def __init__(self, view: memoryview, offset: int) -> None:
        self._view = view
        self.offset = offset

    def u(self, fmt: struct.Struct) -> int:
        (value,) = fmt.unpack_from(self._view, self.offset)
        self.offset += fmt.size
        return int(value)

    def take(self, length: int) -> memoryview:
        end = self.offset + length
        if length < 0 or end > len(self._view):
            raise CorruptEntryError("cache entry truncated")
        chunk = self._view[self.offset : end]
        self.offset = end
        return chunk
