"""Decoding tensors from the wire, shared by REST and gRPC so both reject the same input."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mlinfer.core import datatypes
from mlinfer.core.errors import InvalidInputError
from mlinfer.core.types import Tensor


def element_count(shape: Sequence[int]) -> int:
    return math.prod(shape)


def check_shape(name: str, shape: Sequence[int]) -> tuple[int, ...]:
    if any(d < 0 for d in shape):
        raise InvalidInputError(
            f"unexpected shape for input '{name}': dimensions must be non-negative, got "
            f"{list(shape)}"
        )
    return tuple(int(d) for d in shape)


def tensor_from_bytes(
    name: str, datatype: str, shape: Sequence[int], raw: bytes | memoryview
) -> Tensor:
    """Build a tensor from its raw little-endian bytes without copying fixed-size data."""
    dtype = datatypes.from_name(datatype)
    dims = check_shape(name, shape)
    count = element_count(dims)
    if dtype.name == "BYTES":
        array = datatypes.deserialize_bytes_tensor(raw, name)
        if array.size != count:
            raise InvalidInputError(
                f"unexpected number of string elements {array.size} for inference input "
                f"'{name}', expecting {count}"
            )
    else:
        expected = count * dtype.itemsize
        if len(raw) != expected:
            raise InvalidInputError(
                f"unexpected total byte size {len(raw)} for input '{name}', expecting {expected}"
            )
        array = np.frombuffer(raw, dtype=dtype.numpy)
    return Tensor(name, dtype.name, dims, array.reshape(dims))


def tensor_from_list(name: str, datatype: str, shape: Sequence[int], values: Any) -> Tensor:
    """Build a tensor from JSON data (flat or nested lists, row-major)."""
    dtype = datatypes.from_name(datatype)
    dims = check_shape(name, shape)
    count = element_count(dims)
    try:
        if dtype.name == "BYTES":
            flat = _flatten(values)
            array: NDArray[Any] = np.empty(len(flat), dtype=np.object_)
            array[:] = [_element_bytes(v) for v in flat]
        else:
            array = np.asarray(values, dtype=dtype.numpy).reshape(-1)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidInputError(
            f"unable to parse 'data' of input '{name}' as {dtype.name}: {exc}"
        ) from None
    if array.size != count:
        raise InvalidInputError(
            f"unexpected number of elements {array.size} for inference input '{name}', "
            f"expecting {count} for shape {list(dims)}"
        )
    return Tensor(name, dtype.name, dims, array.reshape(dims))


def _element_bytes(value: Any) -> bytes:
    # bytes(5) would be five zero bytes: a number is not a string element.
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    raise TypeError(f"expected a string element, got {type(value).__name__}")


def _flatten(values: Any) -> list[Any]:
    if isinstance(values, (list, tuple)):
        out: list[Any] = []
        for v in values:
            out.extend(_flatten(v))
        return out
    return [values]


def tensor_to_bytes(tensor: Tensor) -> bytes | memoryview:
    """Raw bytes of a tensor as the wire carries them (row-major, little-endian)."""
    if tensor.datatype == "BYTES":
        return datatypes.serialize_bytes_tensor(tensor.data)
    data = np.ascontiguousarray(tensor.data)
    if data.size == 0:
        return b""  # memoryview.cast refuses shapes with a zero dimension
    return memoryview(data.data).cast("B")


def tensor_to_list(tensor: Tensor) -> list[Any]:
    """Flat JSON-ready values (BYTES decoded as UTF-8 where possible)."""
    if tensor.datatype == "BYTES":
        return [_bytes_to_json(v) for v in tensor.data.reshape(-1)]
    return tensor.data.reshape(-1).tolist()  # type: ignore[no-any-return]


def _bytes_to_json(value: Any) -> Any:
    if isinstance(value, bytes):
        try:
            return value.decode()
        except UnicodeDecodeError:
            return value.decode("latin-1")
    return value
