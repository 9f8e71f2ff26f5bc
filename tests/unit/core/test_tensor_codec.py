"""Wire <-> tensor conversions: shapes, BYTES in both directions, empty tensors, errors."""

from __future__ import annotations

import re
import struct

import numpy as np
import pytest

from mlinfer.core.errors import InvalidInputError
from mlinfer.core.tensors import (
    check_shape,
    element_count,
    tensor_from_bytes,
    tensor_from_list,
    tensor_to_bytes,
    tensor_to_list,
)
from mlinfer.core.types import Tensor


def _framed(*items: bytes) -> bytes:
    return b"".join(struct.pack("<I", len(i)) + i for i in items)


def test_element_count_and_zero_dimensions() -> None:
    assert element_count([2, 3, 4]) == 24
    assert element_count([]) == 1  # a scalar holds one element
    assert element_count([5, 0]) == 0
    assert check_shape("x", [0, 3]) == (0, 3)
    assert check_shape("x", []) == ()


def test_check_shape_returns_plain_ints_and_names_the_bad_shape() -> None:
    dims = check_shape("x", [np.int64(2), 3])
    assert dims == (2, 3)
    assert all(type(d) is int for d in dims)
    message = "unexpected shape for input 'img': dimensions must be non-negative, got [2, -3]"
    with pytest.raises(InvalidInputError, match=f"^{re.escape(message)}$"):
        check_shape("img", [2, -3])


def test_fixed_size_from_bytes_is_shaped_and_typed() -> None:
    values = np.array([[1, -2], [3, 4]], dtype=np.int16)
    tensor = tensor_from_bytes("x", "INT16", [2, 2], values.tobytes())
    assert (tensor.name, tensor.datatype, tensor.shape) == ("x", "INT16", (2, 2))
    assert tensor.data.dtype == np.int16
    np.testing.assert_array_equal(tensor.data, values)


def test_bytes_input_from_bytes() -> None:
    tensor = tensor_from_bytes("s", "BYTES", [1, 2], _framed(b"ab", b"\xff"))
    assert tensor.shape == (1, 2)
    assert tensor.data.tolist() == [[b"ab", b"\xff"]]


def test_bytes_input_with_the_wrong_element_count_is_refused() -> None:
    message = "unexpected number of string elements 2 for inference input 's', expecting 3"
    with pytest.raises(InvalidInputError, match=f"^{re.escape(message)}$"):
        tensor_from_bytes("s", "BYTES", [3], _framed(b"a", b"b"))


def test_zero_size_input_from_bytes() -> None:
    tensor = tensor_from_bytes("x", "FP32", [0, 4], b"")
    assert tensor.data.shape == (0, 4)
    message = "unexpected total byte size 4 for input 'x', expecting 0"
    with pytest.raises(InvalidInputError, match=f"^{re.escape(message)}$"):
        tensor_from_bytes("x", "FP32", [0, 4], b"\0" * 4)


def test_from_list_accepts_nested_and_flat_rows() -> None:
    nested = tensor_from_list("x", "INT32", [2, 2], [[1, 2], [3, 4]])
    flat = tensor_from_list("x", "INT32", [2, 2], [1, 2, 3, 4])
    assert nested.data.dtype == np.int32
    assert nested.data.tolist() == flat.data.tolist() == [[1, 2], [3, 4]]


def test_bytes_from_list_encodes_text_and_keeps_raw_bytes() -> None:
    tensor = tensor_from_list("s", "BYTES", [2, 2], [["é", b"\x00\xff"], ("a", "")])
    assert tensor.data.dtype == np.object_
    assert tensor.data.tolist() == [["é".encode(), b"\x00\xff"], [b"a", b""]]


def test_from_list_element_count_must_match_the_shape() -> None:
    message = (
        "unexpected number of elements 3 for inference input 'x', expecting 4 for shape [2, 2]"
    )
    with pytest.raises(InvalidInputError, match=f"^{re.escape(message)}$"):
        tensor_from_list("x", "FP32", [2, 2], [1, 2, 3])
    with pytest.raises(InvalidInputError, match=r"unexpected number of elements 1 .* expecting 2"):
        tensor_from_list("s", "BYTES", [2], ["only"])


@pytest.mark.parametrize("value", [1.5, 5, None, True])
def test_bytes_from_list_refuses_values_that_are_not_text(value: object) -> None:
    # bytes(5) would silently be five zero bytes: a number is not a string element.
    with pytest.raises(InvalidInputError, match="unable to parse 'data' of input 's' as BYTES"):
        tensor_from_list("s", "BYTES", [1], [value])


def test_to_bytes_of_fixed_size_is_the_little_endian_layout() -> None:
    data = np.arange(6, dtype=np.int32).reshape(2, 3)
    raw = tensor_to_bytes(Tensor("x", "INT32", (3, 2), data.T))  # not contiguous
    assert bytes(raw) == np.ascontiguousarray(data.T).tobytes()


def test_zero_size_outputs_are_empty_bytes_and_empty_lists() -> None:
    for shape in [(0,), (2, 0), (0, 3, 4)]:
        empty = Tensor("y", "FP32", shape, np.zeros(shape, np.float32))
        raw = tensor_to_bytes(empty)
        assert bytes(raw) == b""
        assert tensor_to_list(empty) == []
    empty_strings = Tensor("s", "BYTES", (0,), np.empty(0, dtype=np.object_))
    assert bytes(tensor_to_bytes(empty_strings)) == b""


def test_bytes_output_to_wire_and_to_json() -> None:
    data = np.array([[b"hi", "ünï".encode()], [b"", b"\xff\xfe"]], dtype=np.object_)
    tensor = Tensor("s", "BYTES", (2, 2), data)
    assert bytes(tensor_to_bytes(tensor)) == _framed(b"hi", "ünï".encode(), b"", b"\xff\xfe")
    # UTF-8 where it decodes; otherwise latin-1, which maps every byte to one character.
    assert tensor_to_list(tensor) == ["hi", "ünï", "", "ÿþ"]


def test_bytes_output_holding_text_passes_through() -> None:
    data = np.array(["already text"], dtype=np.object_)
    assert tensor_to_list(Tensor("s", "BYTES", (1,), data)) == ["already text"]


def test_numeric_output_to_json_is_flat_python_values() -> None:
    data = np.array([[1.5, 2.0], [3.0, -4.25]], dtype=np.float32)
    values = tensor_to_list(Tensor("y", "FP32", (2, 2), data))
    assert values == [1.5, 2.0, 3.0, -4.25]
    assert all(type(v) is float for v in values)


def test_errors_name_the_input_whichever_path_decodes_it() -> None:
    with pytest.raises(InvalidInputError, match=r"^unexpected shape for input 'img'"):
        tensor_from_bytes("img", "FP32", [-1], b"")
    with pytest.raises(InvalidInputError, match=r"^unexpected shape for input 'img'"):
        tensor_from_list("img", "FP32", [2, -2], [])
    with pytest.raises(InvalidInputError, match=r"BYTES data for input 'words'"):
        tensor_from_bytes("words", "BYTES", [1], b"\x05\x00\x00\x00ab")


def test_non_text_bytes_element_names_its_type() -> None:
    message = "unable to parse 'data' of input 's' as BYTES: expected a string element, got int"
    with pytest.raises(InvalidInputError, match=f"^{re.escape(message)}$"):
        tensor_from_list("s", "BYTES", [2], ["a", 5])


def test_from_list_result_is_named_typed_and_shaped() -> None:
    tensor = tensor_from_list("ids", "INT64", [1, 3], [7, 8, 9])
    assert (tensor.name, tensor.datatype, tensor.shape) == ("ids", "INT64", (1, 3))
    assert tensor.data.shape == (1, 3) and tensor.data.dtype == np.int64


def test_to_bytes_is_a_view_of_unsigned_bytes() -> None:
    data = np.array([-1, 255 << 8], dtype=np.int32)
    raw = memoryview(tensor_to_bytes(Tensor("x", "INT32", (2,), data)))
    assert raw.format == "B" and raw.nbytes == 8
    assert list(raw) == list(data.tobytes())  # 255, not -1, for the high bytes
