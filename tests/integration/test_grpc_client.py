"""The stock tritonclient.grpc client (sync, aio, streaming) against mlinfer's gRPC server.

Every test runs against mlinfer (embedded engine), mlinfer in front of Triton and Triton itself
(``target`` fixture, tests/integration/conftest.py): Triton's behaviour is the reference.
"""

from __future__ import annotations

import asyncio
import queue
from typing import Any

import grpc
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.grpc.aio as aiogrpcclient
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from tritonclient.utils import InferenceServerException, np_to_triton_dtype, triton_to_np_dtype

from mlinfer.samples.models import IDENTITY_TYPES, digits_split
from tests.support.triton.targets import EMBEDDED, TRITON, Target


@pytest.fixture
def client(target: Target) -> grpcclient.InferenceServerClient:
    return grpcclient.InferenceServerClient(target.grpc)


def _input(name: str, array: np.ndarray) -> grpcclient.InferInput:
    tensor = grpcclient.InferInput(name, list(array.shape), np_to_triton_dtype(array.dtype))
    tensor.set_data_from_numpy(array)
    return tensor


def test_server_calls(client: grpcclient.InferenceServerClient, target: Target) -> None:
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready("simple")
    assert not client.is_model_ready("simple", "42")
    meta = client.get_server_metadata(as_json=True)
    assert meta["name"] == target.server_name
    model = client.get_model_metadata("simple", as_json=True)
    assert model["inputs"][0] == {"name": "INPUT0", "datatype": "INT32", "shape": ["-1", "16"]}
    config = client.get_model_config("image_cnn").config
    assert config.max_batch_size == 32
    assert list(config.dynamic_batching.preferred_batch_size) == [8, 16]
    index = client.get_model_repository_index(as_json=True)["models"]
    assert {"name": "simple", "version": "1", "state": "READY"} in index


def test_every_sample_model(client: grpcclient.InferenceServerClient) -> None:
    a = np.arange(32, dtype=np.int32).reshape(2, 16)
    result = client.infer("simple", [_input("INPUT0", a), _input("INPUT1", a)])
    np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), a * 2)
    np.testing.assert_array_equal(result.as_numpy("OUTPUT1"), a * 0)

    _, _, x_test, y_test = digits_split()
    probs = client.infer("digits", [_input("pixels", x_test[:64])]).as_numpy("probabilities")
    assert float(np.mean(probs.argmax(axis=1) == y_test[:64])) >= 0.9

    images = np.random.default_rng(0).random((3, 3, 32, 32), dtype=np.float32)
    assert client.infer("image_cnn", [_input("image", images)]).as_numpy(
        "probabilities").shape == (3, 10)

    ids = np.array([[1, 2, 3]], dtype=np.int64)
    result = client.infer("text_encoder", [_input("input_ids", ids),
                                           _input("attention_mask", np.ones_like(ids))])
    assert result.as_numpy("embedding").shape == (1, 32)


@pytest.mark.parametrize("datatype", sorted(IDENTITY_TYPES))
def test_identity_raw_contents(client: grpcclient.InferenceServerClient, datatype: str) -> None:
    if datatype == "BYTES":
        array = np.array([[b"a", b"", b"\xc3\xa9"]], dtype=np.object_)
    else:
        array = (np.random.default_rng(1).random((2, 3)) * 50).astype(
            triton_to_np_dtype(datatype))
    result = client.infer(f"identity_{datatype.lower()}", [_input("INPUT0", array)])
    out = result.as_numpy("OUTPUT0")
    if datatype == "BYTES":
        assert list(out.reshape(-1)) == list(array.reshape(-1))
    else:
        np.testing.assert_array_equal(out, array)


def test_typed_contents_and_classification(target: Target) -> None:
    """Typed ``contents`` (not raw) in, and the classification extension out."""
    from tritonclient.grpc import service_pb2 as pb
    from tritonclient.grpc import service_pb2_grpc as pb_grpc

    _, _, x_test, _ = digits_split()
    request = pb.ModelInferRequest(model_name="digits")
    tensor = request.inputs.add(name="pixels", datatype="FP32", shape=[1, 64])
    tensor.contents.fp32_contents.extend(x_test[0].tolist())
    out = request.outputs.add(name="probabilities")
    out.parameters["classification"].int64_param = 2
    with grpc.insecure_channel(target.grpc) as channel:
        reply = pb_grpc.GRPCInferenceServiceStub(channel).ModelInfer(request)
    assert reply.outputs[0].datatype == "BYTES"
    assert list(reply.outputs[0].shape) == [1, 2]
    assert len(reply.raw_output_contents) == 1


_ONES = np.ones((1, 16), np.int32)
_NINE = np.ones((9, 16), np.int32)
ERROR_CASES: dict[str, tuple[Any, str, str]] = {
    "unknown-model": (
        lambda c: c.infer("nope", [_input("INPUT0", _ONES)]),
        "StatusCode.NOT_FOUND",
        "unknown model: 'nope'",
    ),
    "missing-input": (
        lambda c: c.infer("simple", [_input("INPUT0", _ONES)]),
        "StatusCode.INVALID_ARGUMENT",
        "missing required input",
    ),
    "batch-too-large": (
        lambda c: c.infer("simple", [_input("INPUT0", _NINE), _input("INPUT1", _NINE)]),
        "StatusCode.INVALID_ARGUMENT",
        "batch-size must be <= 8",
    ),
    "load-unknown-model": (
        lambda c: c.load_model("nope"),
        "StatusCode.INTERNAL",
        "failed to load 'nope'",
    ),
    "stats-unknown-model": (
        lambda c: c.get_inference_statistics("nope"),
        "StatusCode.INVALID_ARGUMENT",
        "requested model 'nope' is not available",
    ),
    "metadata-non-numeric-version": (
        lambda c: c.get_model_metadata("simple", "x"),
        "StatusCode.INVALID_ARGUMENT",
        "failed to get model version from specified version string 'x'",
    ),
    "config-unknown-version": (
        lambda c: c.get_model_config("simple", "9"),
        "StatusCode.NOT_FOUND",
        "Request for unknown model: 'simple' version 9 is not found",
    ),
}
ERROR_DIFFERENCES: dict[str, tuple[tuple[str, ...], str]] = {
    "load-unknown-model": (
        (EMBEDDED,),
        "deliberate: Triton answers a load of a model missing from the repository with "
        "INTERNAL \"failed to load 'nope', failed to poll from model repository\"; mlinfer "
        "answers NOT_FOUND \"Request for unknown model: 'nope' is not found\"",
    ),
}


def _error_case(case: str) -> object:
    if case in ERROR_DIFFERENCES:
        kinds, reason = ERROR_DIFFERENCES[case]
        return pytest.param(case, marks=pytest.mark.differs(*kinds, reason=reason))
    return case


@pytest.mark.parametrize("case", [_error_case(c) for c in ERROR_CASES])
def test_errors_map_to_grpc_status(client: grpcclient.InferenceServerClient, case: str) -> None:
    call, status, message = ERROR_CASES[case]
    with pytest.raises(InferenceServerException) as info:
        call(client)
    assert info.value.status() == status
    assert message in info.value.message()
    assert client.is_server_ready()


def test_unload_unknown_model_succeeds(client: grpcclient.InferenceServerClient) -> None:
    client.unload_model("nope")


def test_stream_infer(client: grpcclient.InferenceServerClient) -> None:
    results: queue.Queue[Any] = queue.Queue()
    client.start_stream(callback=lambda result, error: results.put((result, error)))
    try:
        for i in range(5):
            a = np.full((1, 16), i, np.int32)
            client.async_stream_infer("simple", [_input("INPUT0", a), _input("INPUT1", a)],
                                      request_id=str(i))
        client.async_stream_infer("simple", [_input("INPUT0", np.ones((1, 16), np.int32))],
                                  request_id="bad")
        seen = {}
        errors = []
        for _ in range(6):
            result, error = results.get(timeout=60)
            if error is not None:
                errors.append(error)
            else:
                seen[result.get_response().id] = result.as_numpy("OUTPUT0")
    finally:
        client.stop_stream()
    assert sorted(seen) == ["0", "1", "2", "3", "4"]
    for key, value in seen.items():
        np.testing.assert_array_equal(value, np.full((1, 16), 2 * int(key), np.int32))
    assert len(errors) == 1 and "missing required input" in str(errors[0])


async def test_aio_client_and_stream(target: Target) -> None:
    client = aiogrpcclient.InferenceServerClient(target.grpc)
    try:
        assert await client.is_server_ready()
        a = np.arange(16, dtype=np.int32).reshape(1, 16)

        def inputs() -> list[Any]:
            out = []
            for name in ("INPUT0", "INPUT1"):
                t = aiogrpcclient.InferInput(name, [1, 16], "INT32")
                t.set_data_from_numpy(a)
                out.append(t)
            return out

        results = await asyncio.gather(*(client.infer("simple", inputs()) for _ in range(8)))
        for r in results:
            np.testing.assert_array_equal(r.as_numpy("OUTPUT0"), a * 2)

        async def requests() -> Any:
            for i in range(3):
                yield {"model_name": "simple", "inputs": inputs(), "request_id": str(i)}

        ids = []
        async for result, error in client.stream_infer(requests()):
            assert error is None
            ids.append(result.get_response().id)
        assert sorted(ids) == ["0", "1", "2"]
    finally:
        await client.close()


def test_health(target: Target) -> None:
    with grpc.insecure_channel(target.grpc) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "inference.GRPCInferenceService"):
            reply = health.Check(health_pb2.HealthCheckRequest(service=service))
            assert reply.status == health_pb2.HealthCheckResponse.SERVING


@pytest.mark.skip_targets(TRITON, reason="server reflection is an mlinfer extra: Triton has none")
def test_reflection(target: Target) -> None:
    with grpc.insecure_channel(target.grpc) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        responses = stub.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
        names = {s.name for r in responses for s in r.list_services_response.service}
    assert "inference.GRPCInferenceService" in names
    assert "grpc.health.v1.Health" in names
