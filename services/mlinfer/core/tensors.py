"""Decoding tensors from the wire, shared by REST and gRPC so both reject the same input."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
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
            flat = _flatten(values, max_depth=max(len(dims), 1))
            array: NDArray[Any] = np.empty(len(flat), dtype=np.object_)
            array[:] = [_element_bytes(v) for v in flat]
        else:
            array = _numeric_array(values, dtype)
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


def _flatten(values: Any, max_depth: int) -> list[Any]:
    """Row-major elements of flat or nested lists, nested at most ``max_depth`` deep (the
    shape's rank): iterative, so no input can exhaust the interpreter's stack."""
    out: list[Any] = []
    stack: list[tuple[Iterator[Any], int]] = [(iter([values]), 0)]
    while stack:
        items, depth = stack[-1]
        item = next(items, _END)
        if item is _END:
            stack.pop()
        elif isinstance(item, list | tuple):
            if depth >= max_depth:
                raise ValueError(f"data is nested deeper than the shape's {max_depth} dimensions")
            stack.append((iter(item), depth + 1))
        else:
            out.append(item)
    return out


_END = object()
# JSON element kinds (numpy's inference of the list) each datatype takes, as Triton does:
# integers for integer types, integers or floats for float types, booleans for BOOL.
_ACCEPTED_KINDS = {"i": "iu", "u": "iu", "f": "iuf", "b": "b"}


def _numeric_array(values: Any, dtype: datatypes.DataType) -> NDArray[Any]:
    """Flat array of a numeric datatype from JSON values, refusing what Triton refuses
    (1.7 or true or "12" for INT32) and integers out of the type's range."""
    inferred = np.asarray(values)  # ragged or too deeply nested lists raise ValueError
    if inferred.size == 0:
        return np.empty(0, dtype=dtype.numpy)
    target = np.dtype(dtype.numpy)
    accepted = _ACCEPTED_KINDS[target.kind]
    if inferred.dtype.kind not in accepted:
        found = {
            "f": "a number with a fraction",
            "b": "a boolean",
            "U": "a string",
            "O": "an object or a mix of kinds",
        }.get(inferred.dtype.kind, f"a {inferred.dtype} value")
        raise TypeError(f"every element must be {_KIND_NAMES[target.kind]}, found {found}")
    if target.kind in "iu" and inferred.dtype != target:
        info = np.iinfo(target.name)
        low, high = inferred.min(), inferred.max()
        if low < info.min or high > info.max:
            raise OverflowError(f"values must lie in [{info.min}, {info.max}]")
    return inferred.astype(target, copy=False).reshape(-1)


_KIND_NAMES = {"i": "an integer", "u": "an integer", "f": "a number", "b": "a boolean"}


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
