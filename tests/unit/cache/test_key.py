from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mlinfer.cache.key import CacheKey, make_key
from mlinfer.core.types import InferRequest, RequestedOutput, Tensor


def _request(**changes: object) -> InferRequest:
    image = np.arange(12, dtype=np.float32).reshape(1, 3, 4)
    words = np.array([b"hello", b"", b"\xff"], dtype=np.object_)
    base = InferRequest(
        "image_cnn",
        [Tensor("image", "FP32", (1, 3, 4), image), Tensor("words", "BYTES", (3,), words)],
        id="a",
        outputs=[RequestedOutput("probabilities", class_count=0)],
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def _key(request: InferRequest, version: str = "1", algorithm: str = "xxh3_128") -> CacheKey:
    return make_key(request, version, algorithm)  # type: ignore[arg-type]


@pytest.mark.parametrize("algorithm", ["xxh3_128", "blake2b"])
def test_same_request_same_key(algorithm: str) -> None:
    assert _key(_request(), algorithm=algorithm) == _key(_request(), algorithm=algorithm)
    assert len(_key(_request(), algorithm=algorithm).digest) == 32  # 128 bits, hex


def test_algorithms_never_share_keys() -> None:
    assert _key(_request(), algorithm="xxh3_128") != _key(_request(), algorithm="blake2b")


def test_scheduling_and_transport_fields_do_not_matter() -> None:
    reference = _key(_request())
    other = _request(
        id="b",
        priority=1,
        timeout_us=5,
        trace_headers={"traceparent": "00-x"},
        parameters={"binary_data_output": True},
        outputs=[RequestedOutput("probabilities", binary=True)],
    )
    other.inputs[0].parameters["binary_data_size"] = 48
    assert _key(other) == reference
    # The version the request asked for is irrelevant; the resolved one counts.
    assert _key(_request(model_version="1")) == reference


def test_input_order_does_not_matter() -> None:
    request = _request()
    swapped = _request(inputs=list(reversed(request.inputs)))
    assert _key(swapped) == _key(request)


def test_non_contiguous_data_hashes_like_its_contiguous_copy() -> None:
    data = np.arange(24, dtype=np.float32).reshape(1, 4, 6)[:, :, ::2]
    a = InferRequest("m", [Tensor("x", "FP32", (1, 4, 3), data)])
    b = InferRequest("m", [Tensor("x", "FP32", (1, 4, 3), np.ascontiguousarray(data))])
    assert _key(a) == _key(b)


def _changed_image(mutate: str) -> InferRequest:
    request = _request()
    image = request.inputs[0]
    data = image.data.copy()
    if mutate == "byte":
        data.view(np.uint8).reshape(-1)[5] ^= 1
        request.inputs[0] = dataclasses.replace(image, data=data)
    elif mutate == "shape":
        request.inputs[0] = dataclasses.replace(image, shape=(1, 4, 3), data=data.reshape(1, 4, 3))
    elif mutate == "dtype":
        request.inputs[0] = dataclasses.replace(image, datatype="INT32", data=data.view(np.int32))
    elif mutate == "name":
        request.inputs[0] = dataclasses.replace(image, name="image2")
    elif mutate == "string":
        words = request.inputs[1]
        request.inputs[1] = dataclasses.replace(
            words, data=np.array([b"hello", b"", b"\xfe"], dtype=np.object_)
        )
    elif mutate == "string-framing":
        # Same concatenated bytes, different elements: the length prefixes tell them apart.
        words = request.inputs[1]
        request.inputs[1] = dataclasses.replace(
            words, data=np.array([b"hell", b"o", b"\xff"], dtype=np.object_)
        )
    return request


@pytest.mark.parametrize("mutate", ["byte", "shape", "dtype", "name", "string", "string-framing"])
def test_input_changes_change_the_key(mutate: str) -> None:
    assert _key(_changed_image(mutate)) != _key(_request())


@pytest.mark.parametrize(
    "outputs",
    [
        None,
        [],
        [RequestedOutput("probabilities", class_count=3)],
        [RequestedOutput("logits")],
        [RequestedOutput("probabilities"), RequestedOutput("logits")],
    ],
)
def test_output_options_change_the_key(outputs: list[RequestedOutput] | None) -> None:
    assert _key(_request(outputs=outputs)) != _key(_request())


def test_output_order_matters_because_responses_keep_it() -> None:
    ab = [RequestedOutput("a"), RequestedOutput("b")]
    ba = [RequestedOutput("b"), RequestedOutput("a")]
    assert _key(_request(outputs=ab)) != _key(_request(outputs=ba))


def test_model_and_version_change_the_key() -> None:
    reference = _key(_request())
    assert _key(_request(), version="2") != reference
    assert _key(_request(model_name="other")) != reference


def test_storage_key_is_readable() -> None:
    key = _key(_request())
    assert str(key) == f"1:image_cnn:1:{key.digest}"


def test_empty_and_scalar_inputs_have_keys() -> None:
    empty = InferRequest("m", [Tensor("x", "FP32", (0, 4), np.zeros((0, 4), np.float32))])
    scalar = InferRequest("m", [Tensor("x", "FP32", (), np.array(1.0, np.float32))])
    assert _key(empty) != _key(scalar)
