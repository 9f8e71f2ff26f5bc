"""Datatype names of the Open Inference Protocol and their numpy/ONNX/config equivalents."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from tritonclient.grpc import model_config_pb2 as mc

from mlinfer.core.errors import InvalidInputError


@dataclass(frozen=True)
class DataType:
    name: str  # protocol name: "FP32"
    numpy: np.dtype[np.generic]
    config: int  # model_config_pb2.DataType value
    onnx: int  # onnx.TensorProto element type

    @property
    def itemsize(self) -> int:
        """Bytes per element; 0 for variable-size BYTES."""
        return 0 if self.name == "BYTES" else self.numpy.itemsize


# onnx.TensorProto values, spelled out so the gateway does not import onnx.
_ONNX = {
    "FLOAT": 1, "UINT8": 2, "INT8": 3, "UINT16": 4, "INT16": 5, "INT32": 6, "INT64": 7,
    "STRING": 8, "BOOL": 9, "FLOAT16": 10, "DOUBLE": 11, "UINT32": 12, "UINT64": 13,
}  # fmt: skip

_ALL = [
    DataType("BOOL", np.dtype(np.bool_), mc.TYPE_BOOL, _ONNX["BOOL"]),
    DataType("UINT8", np.dtype(np.uint8), mc.TYPE_UINT8, _ONNX["UINT8"]),
    DataType("UINT16", np.dtype(np.uint16), mc.TYPE_UINT16, _ONNX["UINT16"]),
    DataType("UINT32", np.dtype(np.uint32), mc.TYPE_UINT32, _ONNX["UINT32"]),
    DataType("UINT64", np.dtype(np.uint64), mc.TYPE_UINT64, _ONNX["UINT64"]),
    DataType("INT8", np.dtype(np.int8), mc.TYPE_INT8, _ONNX["INT8"]),
    DataType("INT16", np.dtype(np.int16), mc.TYPE_INT16, _ONNX["INT16"]),
    DataType("INT32", np.dtype(np.int32), mc.TYPE_INT32, _ONNX["INT32"]),
    DataType("INT64", np.dtype(np.int64), mc.TYPE_INT64, _ONNX["INT64"]),
    DataType("FP16", np.dtype(np.float16), mc.TYPE_FP16, _ONNX["FLOAT16"]),
    DataType("FP32", np.dtype(np.float32), mc.TYPE_FP32, _ONNX["FLOAT"]),
    DataType("FP64", np.dtype(np.float64), mc.TYPE_FP64, _ONNX["DOUBLE"]),
    DataType("BYTES", np.dtype(np.object_), mc.TYPE_STRING, _ONNX["STRING"]),
]

BY_NAME: dict[str, DataType] = {d.name: d for d in _ALL}
BY_CONFIG: dict[int, DataType] = {d.config: d for d in _ALL}
BY_ONNX: dict[int, DataType] = {d.onnx: d for d in _ALL}
_BY_NUMPY: dict[np.dtype[np.generic], DataType] = {d.numpy: d for d in _ALL}


def from_name(name: str) -> DataType:
    try:
        return BY_NAME[name]
    except KeyError:
        raise InvalidInputError(f"invalid datatype '{name}'") from None


def from_numpy(dtype: np.dtype[np.generic]) -> DataType:
    if dtype.kind in ("S", "U", "O"):
        return BY_NAME["BYTES"]
    try:
        return _BY_NUMPY[dtype]
    except KeyError:
        raise InvalidInputError(f"numpy dtype {dtype} has no protocol datatype") from None


def serialize_bytes_tensor(array: NDArray[Any]) -> bytes:
    """BYTES elements as the binary extension frames them: 4-byte LE length, then the bytes."""
    parts: list[bytes] = []
    for item in array.reshape(-1):
        raw = item if isinstance(item, bytes) else str(item).encode()
        parts.append(len(raw).to_bytes(4, "little"))
        parts.append(raw)
    return b"".join(parts)


def deserialize_bytes_tensor(raw: bytes | memoryview, name: str) -> NDArray[Any]:
    """Inverse of :func:`serialize_bytes_tensor`; a truncated frame is a client error."""
    view = memoryview(raw)
    items: list[bytes] = []
    offset = 0
    while offset < len(view):
        if offset + 4 > len(view):
            raise InvalidInputError(
                f"unexpected end of BYTES data for input '{name}': truncated length prefix"
            )
        length = int.from_bytes(view[offset : offset + 4], "little")
        offset += 4
        if offset + length > len(view):
            raise InvalidInputError(
                f"unexpected end of BYTES data for input '{name}': element of {length} bytes "
                f"overruns the {len(view)}-byte buffer"
            )
        items.append(bytes(view[offset : offset + length]))
        offset += length
    out = np.empty(len(items), dtype=np.object_)
    out[:] = items
    return out
