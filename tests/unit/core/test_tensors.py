from __future__ import annotations

import numpy as np
import pytest

from mlinfer.core import datatypes
from mlinfer.core.errors import InvalidInputError
from mlinfer.core.tensors import tensor_from_bytes, tensor_from_list, tensor_to_bytes


def test_fixed_size_round_trip_without_copy() -> None:
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    raw = bytes(tensor_to_bytes(tensor_from_list("x", "FP32", [3, 4], array.tolist())))
    tensor = tensor_from_bytes("x", "FP32", [3, 4], raw)
    np.testing.assert_array_equal(tensor.data, array)
    assert not tensor.data.flags.owndata  # a view on the request buffer


def test_bytes_round_trip_and_truncation() -> None:
    items = np.array([b"a", b"", b"\xff\x00"], dtype=np.object_)
    raw = datatypes.serialize_bytes_tensor(items)
    assert list(datatypes.deserialize_bytes_tensor(raw, "s")) == list(items)
    with pytest.raises(InvalidInputError, match="overruns"):
        datatypes.deserialize_bytes_tensor(raw[:-1], "s")
    with pytest.raises(InvalidInputError, match="truncated length prefix"):
        datatypes.deserialize_bytes_tensor(raw + b"\x01", "s")


def test_size_and_value_errors() -> None:
    with pytest.raises(InvalidInputError, match=r"unexpected total byte size 8 .* expecting 16"):
        tensor_from_bytes("x", "FP32", [4], b"\0" * 8)
    with pytest.raises(InvalidInputError, match="dimensions must be non-negative"):
        tensor_from_bytes("x", "FP32", [-1], b"")
    with pytest.raises(InvalidInputError, match="unable to parse 'data' of input 'x' as INT8"):
        tensor_from_list("x", "INT8", [1], ["abc"])
    with pytest.raises(InvalidInputError, match="invalid datatype 'FP8'"):
        tensor_from_list("x", "FP8", [1], [1])
