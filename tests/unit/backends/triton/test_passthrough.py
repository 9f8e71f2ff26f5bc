"""The pass-through's decisions: which requests are forwarded as the client encoded them
(REST adds FP16 to what gRPC keeps), how Triton's REST error answers map, and what an
unreachable Triton answers."""

from __future__ import annotations

import numpy as np
import pytest
from tritonclient.grpc import model_config_pb2 as mc

from mlinfer.backends.triton.errors import TritonError, TritonUnavailableError, from_triton_http
from mlinfer.backends.triton.http_forward import TritonHttpForwarder, http_forwardable
from mlinfer.backends.triton.passthrough import forwardable
from mlinfer.core.errors import (
    InternalError,
    InvalidInputError,
    MLInferError,
    ModelNotFoundError,
    StatusCode,
    UnavailableError,
)
from mlinfer.core.model_spec import ModelSpec, TensorSpec
from mlinfer.core.types import HttpBody, InferRequest, RequestedOutput, Tensor
from tests.support.ports import free_port


def _spec(*, cache: bool = False, labels: tuple[str, ...] = ()) -> ModelSpec:
    return ModelSpec(
        name="m",
        platform="onnxruntime_onnx",
        max_batch_size=8,
        inputs=(TensorSpec("x", "FP32", (4,)),),
        outputs=(TensorSpec("y", "FP32", (4,), labels=labels),),
        config=mc.ModelConfig(name="m"),
        response_cache=cache,
    )


def _request(datatype: str = "FP32", **fields: object) -> InferRequest:
    dtype = np.float16 if datatype == "FP16" else np.float32
    return InferRequest("m", [Tensor("x", datatype, (1, 4), np.zeros((1, 4), dtype))], **fields)  # type: ignore[arg-type]


def test_a_plain_request_is_forwarded() -> None:
    assert http_forwardable(_spec(), _request())
    assert http_forwardable(_spec(), _request(priority=2, parameters={"priority": 2}))


@pytest.mark.parametrize(
    ("spec", "request_"),
    [
        (_spec(cache=True), _request()),  # the cache stores decoded outputs
        (_spec(labels=("cat", "dog", "eel", "fox")), _request()),  # class counts per version
        (_spec(), _request(outputs=[RequestedOutput("y", class_count=2)])),
        (_spec(), _request(priority=1)),  # from X-Priority: the body does not say it
        (_spec(), _request("FP16")),  # Triton refuses FP16 JSON; mlinfer accepts it
    ],
    ids=["cache", "labels", "class_count", "header-priority", "fp16"],
)
def test_requests_a_gateway_feature_needs_decoded_are_not(
    spec: ModelSpec, request_: InferRequest
) -> None:
    assert not http_forwardable(spec, request_)


@pytest.mark.parametrize(
    ("status", "kind", "code"),
    [
        (400, InvalidInputError, StatusCode.INVALID_ARGUMENT),
        (404, ModelNotFoundError, StatusCode.NOT_FOUND),
        (503, UnavailableError, StatusCode.UNAVAILABLE),
        (429, TritonError, StatusCode.RESOURCE_EXHAUSTED),
        (409, TritonError, StatusCode.ALREADY_EXISTS),
    ],
)
def test_tritons_error_answer_keeps_its_message_and_status(
    status: int, kind: type[MLInferError], code: StatusCode
) -> None:
    error = from_triton_http(status, b'{"error":"unexpected shape for input \'x\'"}')
    assert type(error) is kind and error.status is code
    assert error.message == "unexpected shape for input 'x'"


def test_an_answer_without_tritons_error_body_is_still_named() -> None:
    error = from_triton_http(418, b"")
    assert isinstance(error, InternalError)
    assert error.message == "Triton answered HTTP 418: HTTP 418"
    proxy = from_triton_http(502, b"<html>bad gateway</html>")
    assert proxy.message == "Triton answered HTTP 502: <html>bad gateway</html>"


async def test_an_unreachable_triton_is_unavailable_and_named() -> None:
    url = f"127.0.0.1:{free_port()}"  # nothing listens there
    forwarder = TritonHttpForwarder(url)
    try:
        with pytest.raises(TritonUnavailableError, match=f"^Triton at {url} is unavailable: "):
            await forwarder.infer(_request(), HttpBody(b"{}"), timeout_s=5.0)
    finally:
        await forwarder.close()


def test_grpc_forwards_half_precision() -> None:
    """Only REST refuses FP16 as JSON numbers: a gRPC message carries it as Triton takes it."""
    half = _request("FP16")
    assert forwardable(_spec(), half) and not http_forwardable(_spec(), half)
