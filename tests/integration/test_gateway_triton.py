"""The production gateway (auth, cache, image inference) in front of a real Triton."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from PIL import Image
from tritonclient.utils import InferenceServerException

from mlinfer.auth import hash_api_key
from tests.support.servers import ServerThread, settings_for
from tests.support.triton.server_process import TritonServerProcess

pytestmark = pytest.mark.triton
API_KEY = "mlk_" + "t" * 40


@pytest.fixture(scope="module")
def gateway(sample_repository: Path, triton_server: TritonServerProcess) -> Iterator[ServerThread]:
    settings = settings_for(
        sample_repository,
        triton_url=triton_server.grpc_url,
        auth_mode="required",
        auth_api_keys=[{"name": "cam", "hash": hash_api_key(API_KEY), "scopes": ["infer"]}],
    )
    with ServerThread(settings, rest=True, grpc=True) as srv:
        yield srv


def _image_body(seed: int) -> dict[str, object]:
    data = np.random.default_rng(seed).random((1, 3, 32, 32), dtype=np.float32)
    return {"inputs": [{"name": "image", "datatype": "FP32", "shape": [1, 3, 32, 32],
                        "data": data.reshape(-1).tolist()}]}


def _triton_executions(triton: TritonServerProcess) -> int:
    client = grpcclient.InferenceServerClient(triton.grpc_url)
    try:
        stats = client.get_inference_statistics("image_cnn", as_json=True)
    finally:
        client.close()
    return int(stats["model_stats"][0].get("execution_count", 0))


def test_auth_in_front_of_triton(gateway: ServerThread) -> None:
    url = f"http://{gateway.http}/v2/models/image_cnn/infer"
    assert httpx.post(url, json=_image_body(1)).status_code == 401
    assert httpx.post(url, json=_image_body(1), headers={"X-API-Key": API_KEY}).status_code == 200
    client = grpcclient.InferenceServerClient(gateway.grpc)
    try:
        with pytest.raises(InferenceServerException) as info:
            client.get_model_metadata("image_cnn")
        assert info.value.status() == "StatusCode.UNAUTHENTICATED"
        # The key has only the infer scope; metadata needs models:read.
        with pytest.raises(InferenceServerException) as info:
            client.get_model_metadata("image_cnn", headers={"x-api-key": API_KEY})
        assert info.value.status() == "StatusCode.PERMISSION_DENIED"
    finally:
        client.close()


def test_cache_hit_skips_triton(gateway: ServerThread, triton_server: TritonServerProcess) -> None:
    url = f"http://{gateway.http}/v2/models/image_cnn/infer"
    headers = {"X-API-Key": API_KEY}
    body = _image_body(seed=4242)
    first = httpx.post(url, json=body, headers=headers)
    assert first.status_code == 200 and "x-cache" not in first.headers
    executions = _triton_executions(triton_server)
    second = httpx.post(url, json=body, headers=headers)
    assert second.headers.get("x-cache") == "HIT"
    assert second.json()["outputs"] == first.json()["outputs"]
    assert _triton_executions(triton_server) == executions  # Triton never saw the hit


def test_image_endpoint_in_front_of_triton(gateway: ServerThread) -> None:
    buffer = io.BytesIO()
    Image.fromarray(np.full((40, 30, 3), 200, np.uint8)).save(buffer, format="PNG")
    response = httpx.post(f"http://{gateway.http}/infer/image", params={"model": "image_cnn"},
                          content=buffer.getvalue(), headers={"X-API-Key": API_KEY})
    assert response.status_code == 200, response.text
    assert len(response.json()["classifications"]) == 3
