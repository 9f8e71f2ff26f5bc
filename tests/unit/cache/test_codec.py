from __future__ import annotations

import struct
import zlib
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from mlinfer.cache.codec import (
    CHECKSUM_CRC32,
    CHECKSUM_XXH3_64,
    CorruptEntryError,
    decode_outputs,
    encode_outputs,
)
from mlinfer.core import datatypes
from mlinfer.core.types import Tensor


def _sample(datatype: str, shape: tuple[int, ...] = (2, 3)) -> Tensor:
    rng = np.random.default_rng(0)
    count = int(np.prod(shape))
    data: NDArray[Any]
    if datatype == "BYTES":
        values = [b"", b"a", b"\x00\xff", "é".encode(), b"x" * 300, b"z"]
        data = np.empty(count, dtype=np.object_)
        data[:] = (values * count)[:count]
    elif datatype == "BOOL":
        data = rng.integers(0, 2, count).astype(np.bool_)
    else:
        dtype: Any = datatypes.from_name(datatype).numpy
        if dtype.kind == "f":
            data = rng.standard_normal(count).astype(dtype)
        else:
            info = np.iinfo(dtype)
            data = rng.integers(info.min, info.max, count, dtype=dtype, endpoint=True)
    return Tensor(f"out_{datatype.lower()}", datatype, shape, data.reshape(shape))


def _assert_same(a: Tensor, b: Tensor) -> None:
    assert (a.name, a.datatype, a.shape) == (b.name, b.datatype, b.shape)
    assert a.data.shape == b.data.shape
    if a.datatype == "BYTES":
        assert list(a.data.reshape(-1)) == list(b.data.reshape(-1))
    else:
        assert a.data.dtype == b.data.dtype
        np.testing.assert_array_equal(a.data, b.data)


@pytest.mark.parametrize("datatype", sorted(datatypes.BY_NAME))
@pytest.mark.parametrize("kind", [CHECKSUM_XXH3_64, CHECKSUM_CRC32])
def test_round_trip_every_datatype(datatype: str, kind: int) -> None:
    tensor = _sample(datatype)
    (back,) = decode_outputs(encode_outputs([tensor], checksum_kind=kind))
    _assert_same(back, tensor)


def test_round_trip_several_outputs_and_odd_shapes() -> None:
    outputs = [
        _sample("FP16", (1, 3)),
        _sample("BYTES", (2, 1)),
        Tensor("scalar", "FP64", (), np.array(2.5)),
        Tensor("empty", "INT32", (0, 4), np.zeros((0, 4), np.int32)),
        Tensor("empty_strings", "BYTES", (0,), np.empty(0, dtype=np.object_)),
        _sample("UINT8", (1, 7)),  # odd size: the next payload is padded to 8 bytes
        _sample("FP32", (1, 5)),
    ]
    back = decode_outputs(encode_outputs(outputs))
    assert len(back) == len(outputs)
    for b, a in zip(back, outputs, strict=True):
        _assert_same(b, a)
    # Fixed-size payloads are aligned, read-only views on the entry (no copy on a hit).
    assert back[-1].data.flags.aligned
    assert not back[-1].data.flags.writeable


def test_nothing_but_outputs_is_stored() -> None:
    tensor = _sample("FP32")
    tensor.parameters["binary_data_size"] = 24
    (back,) = decode_outputs(encode_outputs([tensor]))
    assert back.parameters == {}


def test_empty_response_round_trips() -> None:
    assert decode_outputs(encode_outputs([])) == []


def _entry() -> bytes:
    return encode_outputs([_sample("FP32"), _sample("BYTES")])


def test_every_truncation_is_corrupt() -> None:
    entry = _entry()
    for end in range(len(entry)):
        with pytest.raises(CorruptEntryError):
            decode_outputs(entry[:end])


def test_every_single_byte_flip_is_corrupt() -> None:
    entry = bytearray(_entry())
    for position in range(len(entry)):
        entry[position] ^= 0x41
        with pytest.raises(CorruptEntryError):
            decode_outputs(bytes(entry))
        entry[position] ^= 0x41


@pytest.mark.parametrize(
    "junk", [b"", b"MLRC", b"\x00" * 64, b"not a cache entry at all", b"\x80\x04\x95pickle"]
)
def test_garbage_is_corrupt(junk: bytes) -> None:
    with pytest.raises(CorruptEntryError):
        decode_outputs(junk)


def _forge(body: bytes, count: int, version: int = 1, kind: int = CHECKSUM_CRC32) -> bytes:
    """An entry with a valid checksum around an arbitrary body (a hostile writer's view)."""
    return struct.pack("<4sBBHQ", b"MLRC", version, kind, count, zlib.crc32(body)) + body


def _output_body(dtype: bytes, shape: tuple[int, ...], payload: bytes, name: bytes = b"o") -> bytes:
    head = struct.pack("<H", len(name)) + name + struct.pack("<B", len(dtype)) + dtype
    head += struct.pack("<B", len(shape)) + b"".join(struct.pack("<q", d) for d in shape)
    head += struct.pack("<Q", len(payload))
    return head + b"\x00" * (-(16 + len(head)) % 8) + payload


@pytest.mark.parametrize(
    "body, count",
    [
        (_output_body(b"FP32", (2,), b"\x00" * 4), 1),  # payload too short for the shape
        (_output_body(b"FP32", (-1,), b""), 1),  # negative dimension
        (_output_body(b"COMPLEX", (1,), b"\x00" * 8), 1),  # unknown datatype
        (_output_body(b"FP32", (1,), b"\x00" * 4, name=b"\xff\xfe"), 1),  # name not UTF-8
        (_output_body(b"BYTES", (2,), b"\x01\x00\x00\x00a"), 1),  # fewer strings than shape
        (_output_body(b"BYTES", (1,), b"\x09\x00\x00\x00a"), 1),  # string overruns
        (_output_body(b"FP32", (1,), b"\x00" * 4) + b"extra", 1),  # trailing bytes
        (_output_body(b"FP32", (1,), b"\x00" * 4), 2),  # count larger than the body
    ],
)
def test_well_checksummed_but_inconsistent_entries_are_corrupt(body: bytes, count: int) -> None:
    assert decode_outputs(_forge(_output_body(b"FP32", (1,), b"\x00" * 4), 1))  # forge works
    with pytest.raises(CorruptEntryError):
        decode_outputs(_forge(body, count))


def test_unknown_format_version_or_checksum_kind_is_corrupt() -> None:
    body = _output_body(b"FP32", (1,), b"\x00" * 4)
    with pytest.raises(CorruptEntryError, match="format 2"):
        decode_outputs(_forge(body, 1, version=2))
    with pytest.raises(CorruptEntryError, match="checksum kind"):
        decode_outputs(_forge(body, 1, kind=9))
