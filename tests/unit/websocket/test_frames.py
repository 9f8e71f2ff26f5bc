"""Frame layout: the binary tensor extension's body behind a 4-byte header length."""

from __future__ import annotations

import struct

import numpy as np
import orjson
import pytest

from mlinfer.core.errors import InvalidInputError
from mlinfer.core.tensors import tensor_from_bytes
from mlinfer.core.types import InferResponse
from mlinfer.ratelimit.errors import RateLimitedError
from mlinfer.websocket.frames import (
    decode_tensor_frame,
    encode_tensor_answer,
    error_answer,
    pack_binary,
)


def _binary_request(values: list[float], binary_out: bool) -> bytes:
    raw = np.asarray(values, np.float32).tobytes()
    header = {
        "id": "r1",
        "inputs": [{"name": "x", "datatype": "FP32", "shape": [len(values)],
                    "parameters": {"binary_data_size": len(raw)}}],
        "outputs": [{"name": "y", "parameters": {"binary_data": binary_out}}],
    }  # fmt: skip
    return pack_binary(orjson.dumps(header), raw)


def test_binary_frame_round_trip() -> None:
    request = decode_tensor_frame("m", "3", _binary_request([1.0, 2.5], binary_out=True))
    assert request.model_version == "3" and request.id == "r1"
    assert np.frombuffer(request.inputs[0].data, np.float32).tolist() == [1.0, 2.5]
    output = tensor_from_bytes("y", "FP32", [2], np.asarray([4, 5], np.float32).tobytes())
    response = InferResponse(model_name="m", model_version="3", id="r1", outputs=[output])
    answer = encode_tensor_answer(response, request, {"seq": 7, "dropped": 2})
    assert isinstance(answer, bytes)
    (length,) = struct.unpack_from("<I", answer)
    header = orjson.loads(answer[4 : 4 + length])
    assert header["seq"] == 7 and header["dropped"] == 2 and header["id"] == "r1"
    assert np.frombuffer(answer[4 + length :], np.float32).tolist() == [4.0, 5.0]


def test_json_answer_is_a_text_frame() -> None:
    request = decode_tensor_frame("m", "1", _binary_request([1.0], binary_out=False))
    output = tensor_from_bytes("y", "FP32", [1], np.asarray([9], np.float32).tobytes())
    answer = encode_tensor_answer(
        InferResponse(model_name="m", model_version="1", outputs=[output]), request, {"seq": 1}
    )
    assert isinstance(answer, str) and orjson.loads(answer)["outputs"][0]["data"] == [9.0]


@pytest.mark.parametrize(
    ("frame", "problem"),
    [
        (b"\x05", "shorter than its 4-byte header length"),
        (struct.pack("<I", 0) + b"{}", "inference header size"),
        (struct.pack("<I", 500) + b"{}", "inference header size"),
        ("[1, 2]", "must be an object"),
    ],
)
def test_bad_frames_name_the_problem(frame: str | bytes, problem: str) -> None:
    with pytest.raises(InvalidInputError, match=problem):
        decode_tensor_frame("m", "1", frame)


def test_error_answer_carries_status_code_and_retry_after() -> None:
    exc = RateLimitedError("slow down", retry_after_s=1.5)
    doc = orjson.loads(error_answer(exc, {"seq": 4, "dropped": 0}, "abc"))
    assert doc["seq"] == 4 and doc["status"] == 429 and doc["code"] == "RESOURCE_EXHAUSTED"
    assert doc["id"] == "abc" and doc["retry_after"] == "2" and doc["error"] == "slow down"
