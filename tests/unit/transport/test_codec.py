"""The REST codec: JSON and binary tensor data, both directions, and its refusals."""

from __future__ import annotations

import json

import numpy as np
import orjson
import pytest

from mlinfer.core.errors import InvalidInputError
from mlinfer.core.types import InferResponse, Tensor
from mlinfer.transport.codec import decode_infer_request, encode_infer_response


def _binary(header: dict[str, object], *chunks: bytes) -> tuple[bytes, str]:
    head = json.dumps(header).encode()
    return head + b"".join(chunks), str(len(head))


def test_binary_and_json_inputs_mix() -> None:
    a = np.arange(4, dtype=np.float32)
    body, length = _binary(
        {
            "id": "r1",
            "parameters": {"priority": 2, "timeout": 500, "binary_data_output": True},
            "inputs": [
                {
                    "name": "A",
                    "datatype": "FP32",
                    "shape": [1, 4],
                    "parameters": {"binary_data_size": 16},
                },
                {"name": "B", "datatype": "INT64", "shape": [2], "data": [7, 8]},
            ],
            "outputs": [{"name": "Y", "parameters": {"classification": 2, "binary_data": False}}],
        },
        a.tobytes(),
    )
    request = decode_infer_request("m", "3", body, length)
    np.testing.assert_array_equal(request.inputs[0].data, a.reshape(1, 4))
    assert request.inputs[1].data.tolist() == [7, 8]
    assert (request.id, request.priority, request.timeout_us, request.model_version) == (
        "r1",
        2,
        500,
        "3",
    )
    assert request.outputs is not None and request.outputs[0].class_count == 2
    assert request.outputs[0].binary is False


@pytest.mark.parametrize(
    ("header", "payload", "message"),
    [
        (
            {
                "inputs": [
                    {
                        "name": "A",
                        "datatype": "FP32",
                        "shape": [1],
                        "parameters": {"binary_data_size": 4},
                    }
                ]
            },
            b"\0" * 8,
            "unexpected additional input data: 4 bytes",
        ),
        (
            {
                "inputs": [
                    {
                        "name": "A",
                        "datatype": "FP32",
                        "shape": [1],
                        "data": [1],
                        "parameters": {"binary_data_size": 4},
                    }
                ]
            },
            b"\0" * 4,
            "has both 'data' and 'binary_data_size'",
        ),
        (
            {"inputs": [{"name": "A", "datatype": "FP32", "shape": ["1"], "data": [1]}]},
            b"",
            "'shape' as an array of integers",
        ),
        (
            {"inputs": [{"name": "A", "datatype": "FP32", "shape": [1]}]},
            b"",
            "neither 'data' nor binary data",
        ),
        (
            {
                "inputs": [{"name": "A", "datatype": "FP32", "shape": [1], "data": [1]}],
                "parameters": {"priority": -1},
            },
            b"",
            "'priority' must be a non-negative integer",
        ),
    ],
)
def test_refusals_name_the_problem(header: dict[str, object], payload: bytes, message: str) -> None:
    body, length = _binary(header, payload)
    with pytest.raises(InvalidInputError, match=message):
        decode_infer_request("m", "", body, length)


def test_header_length_must_fit_the_body() -> None:
    with pytest.raises(InvalidInputError, match="should be in range"):
        decode_infer_request("m", "", b"{}", "3")
    with pytest.raises(InvalidInputError, match="must be an integer"):
        decode_infer_request("m", "", b"{}", "two")


def test_response_binary_only_where_asked() -> None:
    body, length = _binary(
        {
            "inputs": [{"name": "A", "datatype": "FP32", "shape": [1], "data": [1]}],
            "outputs": [{"name": "Y", "parameters": {"binary_data": True}}, {"name": "Z"}],
        }
    )
    request = decode_infer_request("m", "", body, length)
    y = np.array([[1.5, 2.5]], np.float32)
    z = np.array([b"ok"], dtype=np.object_)
    response = InferResponse(
        "m", "1", [Tensor("Y", "FP32", (1, 2), y), Tensor("Z", "BYTES", (1,), z)], id="x"
    )
    payload, header_length = encode_infer_response(response, request)
    assert header_length is not None
    header = orjson.loads(payload[:header_length])
    assert header["outputs"][0]["parameters"] == {"binary_data_size": 8}
    assert header["outputs"][1]["data"] == ["ok"]
    assert np.frombuffer(payload[header_length:], np.float32).tolist() == [1.5, 2.5]


def test_non_finite_floats_travel_as_triton_writes_them() -> None:
    # Python's json (tritonclient's JSON mode) and perf_analyzer write NaN and infinities as
    # bare literals; Triton reads and writes them, so the codec must too, both ways.
    body = b'{"inputs":[{"name":"A","datatype":"FP32","shape":[1,3],"data":[NaN,Infinity,-1.5]}]}'
    request = decode_infer_request("m", "", body, None)
    a = request.inputs[0].data
    assert np.isnan(a[0, 0]) and np.isposinf(a[0, 1]) and a[0, 2] == -1.5
    y = np.array([[np.nan, -np.inf, 2.0]], np.float32)
    payload, header_length = encode_infer_response(
        InferResponse("m", "1", [Tensor("Y", "FP32", (1, 3), y)]), request
    )
    assert header_length is None
    assert b"[NaN,-Infinity,2.0]" in payload  # not orjson's null, which a client reads as None
    data = json.loads(payload)["outputs"][0]["data"]
    assert np.isnan(data[0]) and data[1] == -np.inf and data[2] == 2.0


def test_a_body_that_is_not_json_even_with_those_literals_names_the_position() -> None:
    with pytest.raises(InvalidInputError, match=r"JSON buffer: .*\(char 31\)"):
        decode_infer_request("m", "", b'{"inputs":[{"name":"A","data":[nan]}]}', None)
