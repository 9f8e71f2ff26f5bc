"""``/infer``'s nested-list shapes and its structured classification answer."""

from __future__ import annotations

import numpy as np
import pytest

from mlinfer.core.errors import InvalidInputError
from mlinfer.core.types import InferResponse, Tensor
from mlinfer.gateway.simple_infer import encode_outputs, nested_shape, parse_simple_request


def test_shapes_of_rectangular_lists() -> None:
    assert nested_shape("x", 5) == ()
    assert nested_shape("x", []) == (0,)
    assert nested_shape("x", [[], []]) == (2, 0)
    assert nested_shape("x", [["a", "b"], ["c", "d"], ["e", "f"]]) == (3, 2)
    assert nested_shape("x", [[[1]] * 4] * 2) == (2, 4, 1)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ([[0.1, 0.1], [0.2]], "is ragged: its lists at depth 2 have lengths 1 and 2"),
        ([[1], []], "is ragged: its lists at depth 2 have lengths 0 and 1"),
        ([1, [2]], "mixes lists and single values at depth 2"),
        ([[1, 2], [3, [4]]], "mixes lists and single values at depth 3"),
    ],
)
def test_ragged_lists_name_the_input_and_depth(value: object, problem: str) -> None:
    with pytest.raises(InvalidInputError, match=f"input 'pixels' {problem}"):
        nested_shape("pixels", value)


def test_deep_nesting_needs_no_recursion() -> None:
    value: object = 1.0
    for _ in range(5000):
        value = [value]
    assert nested_shape("x", value) == (1,) * 5000


def _classes(shape: tuple[int, ...], entries: list[bytes]) -> InferResponse:
    data = np.array(entries, dtype=np.object_).reshape(shape)
    return InferResponse("digits", "1", [Tensor("probabilities", "BYTES", shape, data)])


def test_structured_classes_per_batch_item() -> None:
    body = parse_simple_request(b'{"model_name": "digits", "top_k": 2, "inputs": {}}')
    response = _classes((2, 2), [b"0.9:2:two", b"0.1:7", b"16:1:a:b", b"3:0:zero"])
    out = encode_outputs(body, response)["probabilities"]
    assert out == {
        "datatype": "BYTES",
        "shape": [2, 2],
        "classifications": [
            [{"label": "two", "index": 2, "score": 0.9}, {"label": "7", "index": 7, "score": 0.1}],
            [
                {"label": "a:b", "index": 1, "score": 16.0},
                {"label": "zero", "index": 0, "score": 3.0},
            ],
        ],
    }
    flat = encode_outputs(body, _classes((2,), [b"0.9:2:two", b"0.1:7"]))["probabilities"]
    assert flat["classifications"][1] == {"label": "7", "index": 7, "score": 0.1}
    raw = parse_simple_request(
        b'{"model_name": "d", "top_k": 2, "classification_format": "triton", "inputs": {}}'
    )
    assert encode_outputs(raw, response)["probabilities"]["data"][0] == "0.9:2:two"


def test_request_problems_are_400_never_422() -> None:
    with pytest.raises(InvalidInputError, match="failed to parse the request JSON"):
        parse_simple_request(b"{oops")
    with pytest.raises(InvalidInputError, match="invalid request: model_name: Field required"):
        parse_simple_request(b'{"inputs": {}}')
    with pytest.raises(InvalidInputError, match="classification_format"):
        parse_simple_request(b'{"model_name": "m", "inputs": {}, "classification_format": 1}')
