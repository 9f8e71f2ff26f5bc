"""The stock tritonclient.http client (sync and aio, JSON and binary) against mlinfer.

Every test runs against mlinfer (embedded engine), mlinfer in front of Triton and Triton itself
(``target`` fixture, tests/integration/conftest.py): Triton's behaviour is the reference.
"""

from __future__ import annotations

import httpx
import numpy as np
import pytest
import tritonclient.http as httpclient
import tritonclient.http.aio as aiohttpclient
from tritonclient.utils import InferenceServerException, np_to_triton_dtype, triton_to_np_dtype

from mlinfer.samples.models import IDENTITY_TYPES, digits_split
from tests.support.triton.targets import EMBEDDED, MLINFER_TRITON, Target


@pytest.fixture
def client(target: Target) -> httpclient.InferenceServerClient:
    return httpclient.InferenceServerClient(target.http)


def _input(name: str, array: np.ndarray, binary: bool) -> httpclient.InferInput:
    tensor = httpclient.InferInput(name, list(array.shape), np_to_triton_dtype(array.dtype))
    tensor.set_data_from_numpy(array, binary_data=binary)
    return tensor


def test_server_health_and_metadata(
    client: httpclient.InferenceServerClient, target: Target
) -> None:
    assert client.is_server_live()
    assert client.is_server_ready()
    meta = client.get_server_metadata()
    assert meta["name"] == target.server_name
    assert "binary_tensor_data" in meta["extensions"]
    assert "classification" in meta["extensions"]


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_simple_add_sub(client: httpclient.InferenceServerClient, binary: bool) -> None:
    a = np.arange(32, dtype=np.int32).reshape(2, 16)
    b = np.full((2, 16), 3, dtype=np.int32)
    outputs = [httpclient.InferRequestedOutput(n, binary_data=binary)
               for n in ("OUTPUT0", "OUTPUT1")]
    result = client.infer("simple", [_input("INPUT0", a, binary), _input("INPUT1", b, binary)],
                          outputs=outputs, request_id="req-7")
    np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), a + b)
    np.testing.assert_array_equal(result.as_numpy("OUTPUT1"), a - b)
    response = result.get_response()
    assert response["id"] == "req-7"
    assert response["model_version"] == "1"


@pytest.mark.parametrize("datatype", sorted(IDENTITY_TYPES))
@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_identity_every_datatype(
    client: httpclient.InferenceServerClient, datatype: str, binary: bool
) -> None:
    if datatype == "FP16" and not binary:
        pytest.skip("FP16 has no JSON form in Triton: see test_fp16_json_is_rejected")
    rng = np.random.default_rng(3)
    if datatype == "BYTES":
        array = np.array([[b"alpha", b"", "\u00e9t\u00e9".encode()]], dtype=np.object_)
    elif datatype == "BOOL":
        array = rng.integers(0, 2, (2, 5)).astype(np.bool_)
    else:
        array = (rng.random((2, 5)) * 100).astype(triton_to_np_dtype(datatype))
    model = f"identity_{datatype.lower()}"
    result = client.infer(model, [_input("INPUT0", array, binary)],
                          outputs=[httpclient.InferRequestedOutput("OUTPUT0", binary_data=binary)])
    out = result.as_numpy("OUTPUT0")
    assert out.shape == array.shape
    if datatype == "BYTES":
        # JSON carries BYTES as strings, binary as raw bytes.
        got = [x.encode() if isinstance(x, str) else bytes(x) for x in out.reshape(-1)]
        assert got == list(array.reshape(-1))
    elif datatype == "FP64" and not binary:
        # Triton's JSON parser may round an FP64 value by one ulp; mlinfer keeps it exact.
        np.testing.assert_allclose(out, array, rtol=1e-15, atol=0)
    else:
        np.testing.assert_array_equal(out, array)


@pytest.mark.differs(
    EMBEDDED,
    MLINFER_TRITON,
    reason="deliberate: Triton rejects FP16 tensor data in JSON (400 \"receiving FP16 data via "
    "JSON is not supported\"); mlinfer's REST codec accepts it (a superset, nothing is lost)",
)
def test_fp16_json_is_rejected(client: httpclient.InferenceServerClient) -> None:
    array = np.ones((1, 3), np.float16)
    with pytest.raises(InferenceServerException) as info:
        client.infer("identity_fp16", [_input("INPUT0", array, False)],
                     outputs=[httpclient.InferRequestedOutput("OUTPUT0", binary_data=True)])
    assert info.value.status() == "400"
    assert "receiving FP16 data via JSON is not supported" in info.value.message()


def test_classification_of_integer_output(client: httpclient.InferenceServerClient) -> None:
    a = np.arange(16, dtype=np.int32).reshape(1, 16)
    b = np.ones((1, 16), np.int32)
    result = client.infer(
        "simple", [_input("INPUT0", a, True), _input("INPUT1", b, True)],
        outputs=[httpclient.InferRequestedOutput("OUTPUT0", class_count=2)])
    top = [x.decode() if isinstance(x, bytes) else x for x in result.as_numpy("OUTPUT0")[0]]
    assert top == ["16:15", "15:14"]


def test_digits_accuracy_and_classification(client: httpclient.InferenceServerClient) -> None:
    _, _, x_test, y_test = digits_split()
    predictions: list[int] = []
    for start in range(0, len(x_test), 64):
        batch = x_test[start : start + 64]
        result = client.infer("digits", [_input("pixels", batch, True)])
        predictions.extend(np.argmax(result.as_numpy("probabilities"), axis=1).tolist())
    accuracy = float(np.mean(np.array(predictions) == y_test))
    assert accuracy >= 0.93, f"digits accuracy {accuracy:.3f}"

    result = client.infer(
        "digits", [_input("pixels", x_test[:2], True)],
        outputs=[httpclient.InferRequestedOutput("probabilities", class_count=3)])
    top = result.as_numpy("probabilities")
    assert top.shape == (2, 3)
    score, index, label = top[0][0].decode().split(":")
    assert int(index) == predictions[0] and label == str(predictions[0])
    assert 0.0 < float(score) <= 1.0


def test_cnn_and_text_models(client: httpclient.InferenceServerClient) -> None:
    images = np.random.default_rng(0).random((4, 3, 32, 32), dtype=np.float32)
    probs = client.infer("image_cnn", [_input("image", images, True)]).as_numpy("probabilities")
    assert probs.shape == (4, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)

    ids = np.array([[5, 17, 42, 0], [7, 8, 9, 10]], dtype=np.int64)
    mask = np.array([[1, 1, 1, 0], [1, 1, 1, 1]], dtype=np.int64)
    result = client.infer("text_encoder", [_input("input_ids", ids, True),
                                           _input("attention_mask", mask, True)])
    assert result.as_numpy("embedding").shape == (2, 32)
    assert result.as_numpy("logits").shape == (2, 2)
    # Padding is masked out: the padded row equals the same tokens without the pad.
    alone = client.infer("text_encoder", [_input("input_ids", ids[:1, :3].copy(), True),
                                          _input("attention_mask", mask[:1, :3].copy(), True)])
    np.testing.assert_allclose(alone.as_numpy("embedding")[0], result.as_numpy("embedding")[0],
                               rtol=1e-4, atol=1e-5)


def test_metadata_config_and_stats(client: httpclient.InferenceServerClient) -> None:
    meta = client.get_model_metadata("image_cnn")
    assert meta["inputs"] == [{"name": "image", "datatype": "FP32", "shape": [-1, 3, 32, 32]}]
    config = client.get_model_config("image_cnn")
    assert config["max_batch_size"] == 32
    assert config["dynamic_batching"]["preferred_batch_size"] == [8, 16]
    assert config["input"][0]["dims"] == [3, 32, 32]
    before = client.get_inference_statistics("simple")["model_stats"][0]
    a = np.ones((1, 16), np.int32)
    client.infer("simple", [_input("INPUT0", a, True), _input("INPUT1", a, True)])
    after = client.get_inference_statistics("simple")["model_stats"][0]
    assert after["inference_stats"]["success"]["count"] == (
        before["inference_stats"]["success"]["count"] + 1)
    assert after["execution_count"] == before["execution_count"] + 1
    assert any(b["batch_size"] == 1 for b in after["batch_stats"])


def test_unknown_model_and_bad_input(client: httpclient.InferenceServerClient) -> None:
    a = np.ones((1, 16), np.int32)
    with pytest.raises(InferenceServerException, match="unknown model: 'nope'"):
        client.infer("nope", [_input("INPUT0", a, True)])
    with pytest.raises(InferenceServerException, match="missing required input"):
        client.infer("simple", [_input("INPUT0", a, True)])
    with pytest.raises(InferenceServerException, match="data-type is 'FP32'"):
        client.infer("simple", [_input("INPUT0", a.astype(np.float32), True),
                                _input("INPUT1", a, True)])
    with pytest.raises(InferenceServerException, match="version 9 is not found"):
        client.infer("simple", [_input("INPUT0", a, True), _input("INPUT1", a, True)],
                     model_version="9")
    assert client.is_server_ready()


# (method, path, body) -> Triton's status and a fragment of its error message ("" = no body).
REST_CASES: dict[str, tuple[str, str, str, int, str]] = {
    "stats-unknown-model": (
        "GET", "/v2/models/nope/stats", "", 400, "requested model 'nope' is not available"),
    "stats-unknown-version": (
        "GET", "/v2/models/simple/versions/9/stats", "", 400,
        "requested model version is not available for model 'simple'"),
    "load-unknown-model": (
        "POST", "/v2/repository/models/nope/load", "", 500, "failed to load 'nope'"),
    "unload-unknown-model": ("POST", "/v2/repository/models/nope/unload", "", 200, ""),
    "ready-unknown-model": ("GET", "/v2/models/nope/ready", "", 400, "Model version not ready"),
    "metadata-unknown-model": (
        "GET", "/v2/models/nope", "", 404, "Request for unknown model: 'nope' is not found"),
    "metadata-non-numeric-version": ("GET", "/v2/models/simple/versions/x", "", 404, ""),
    "config-unknown-version": (
        "GET", "/v2/models/simple/versions/9/config", "", 404,
        "Request for unknown model: 'simple' version 9 is not found"),
}
_REST_DIFFERENCES = {
    "load-unknown-model": (
        (EMBEDDED,), "deliberate: Triton answers a load of a model missing from the repository "
        "with 500 \"failed to load 'nope', failed to poll from model repository\"; mlinfer "
        "treats it as the client error it is: 404 \"Request for unknown model: 'nope' is not "
        "found\""),
}


def _rest_case(case: str) -> object:
    if case in _REST_DIFFERENCES:
        kinds, reason = _REST_DIFFERENCES[case]
        return pytest.param(case, marks=pytest.mark.differs(*kinds, reason=reason))
    return case


@pytest.mark.parametrize("case", [_rest_case(c) for c in REST_CASES])
def test_rest_status_codes(target: Target, case: str) -> None:
    method, path, body, status, message = REST_CASES[case]
    response = httpx.request(method, f"http://{target.http}{path}", content=body, timeout=30)
    assert response.status_code == status, response.text
    if message:
        assert message in response.json()["error"]


async def test_aio_client(target: Target) -> None:
    client = aiohttpclient.InferenceServerClient(target.http)
    try:
        assert await client.is_server_ready()
        assert await client.is_model_ready("simple")
        a = np.arange(16, dtype=np.int32).reshape(1, 16)
        inputs = []
        for name in ("INPUT0", "INPUT1"):
            t = aiohttpclient.InferInput(name, [1, 16], "INT32")
            t.set_data_from_numpy(a)
            inputs.append(t)
        result = await client.infer("simple", inputs)
        np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), a * 2)
        index = await client.get_model_repository_index()
        assert {"name": "simple", "version": "1", "state": "READY"} in index
    finally:
        await client.close()
