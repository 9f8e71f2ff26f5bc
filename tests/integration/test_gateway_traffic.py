"""Load shedding with priorities, the response cache (memory and Redis), image inference."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import httpx
import numpy as np
import pytest
from PIL import Image
from tritonclient.grpc import service_pb2 as pb
from tritonclient.grpc import service_pb2_grpc as pb_grpc

from mlinfer.samples.writer import write_model
from tests.support.redis_server import RedisServer, redis_binary
from tests.support.servers import ServerThread, settings_for, start_cli_server, wait_until
from tests.support.slow_model import slow_model

needs_redis = pytest.mark.skipif(
    redis_binary() is None, reason="redis-server binary not found (apt-get install redis-server)"
)


def _image_request(seed: int) -> dict[str, object]:
    data = np.random.default_rng(seed).random((1, 3, 32, 32), dtype=np.float32)
    return {
        "inputs": [
            {
                "name": "image",
                "datatype": "FP32",
                "shape": [1, 3, 32, 32],
                "data": data.reshape(-1).tolist(),
            }
        ]
    }


def _metric(text: str, name: str, model: str) -> float:
    match = re.search(rf'^{name}{{model="{model}",version="1"}} (\S+)$', text, re.M)
    return float(match.group(1)) if match else 0.0


def test_burst_sheds_load_but_serves_high_priority(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    # About a second per request: the queue stays full long enough to be seen when loaded.
    write_model(slow_model(iterations=400_000), repo)
    settings = settings_for(
        repo, admission_max_inflight=1, admission_max_queue=2, admission_max_wait_ms=120_000
    )
    with ServerThread(settings) as srv:
        url = f"http://{srv.http}/v2/models/slow/infer"
        body = {
            "inputs": [
                {"name": "INPUT0", "datatype": "FP32", "shape": [1, 4], "data": [0, 0, 0, 0]}
            ]
        }

        def send(priority: int) -> httpx.Response:
            return httpx.post(url, json=body, headers={"X-Priority": str(priority)}, timeout=300)

        def queued() -> float:
            text = httpx.get(f"http://{srv.http}/metrics").text
            match = re.search(r"^mlinfer_admission_queue_depth (\S+)$", text, re.M)
            return float(match.group(1)) if match else 0.0

        with ThreadPoolExecutor(12) as pool:
            lows = [pool.submit(send, 3) for _ in range(8)]
            wait_until(lambda: queued() == 2, "admission queue full of low-priority requests")
            high = pool.submit(send, 1).result()
            low_status = [f.result().status_code for f in lows]
        assert high.status_code == 200
        shed = [s for s in low_status if s == 503]
        assert shed, "a burst past the queue must be shed"
        assert set(low_status) <= {200, 503}
        shed_response = next(f.result() for f in lows if f.result().status_code == 503)
        assert int(shed_response.headers["retry-after"]) >= 1
        assert "overloaded" in shed_response.json()["error"]
        metrics = httpx.get(f"http://{srv.http}/metrics").text
        assert 'mlinfer_shed_requests_total{reason="queue_full"}' in metrics


def test_cache_hit_across_rest_and_grpc(server: ServerThread) -> None:
    request = _image_request(seed=11)
    first = httpx.post(f"http://{server.http}/v2/models/image_cnn/infer", json=request)
    assert first.status_code == 200 and "x-cache" not in first.headers
    message = pb.ModelInferRequest(model_name="image_cnn")
    t = message.inputs.add(name="image", datatype="FP32", shape=[1, 3, 32, 32])
    t.contents.fp32_contents.extend(request["inputs"][0]["data"])  # type: ignore[index]
    with grpc.insecure_channel(server.grpc) as channel:
        reply = pb_grpc.GRPCInferenceServiceStub(channel).ModelInfer(message)
    assert reply.parameters["cache_hit"].bool_param is True
    out = np.frombuffer(reply.raw_output_contents[0], dtype=np.float32)
    np.testing.assert_allclose(out, first.json()["outputs"][0]["data"], rtol=1e-6)
    second = httpx.post(f"http://{server.http}/v2/models/image_cnn/infer", json=request)
    assert second.headers["x-cache"] == "HIT"
    stats = httpx.get(f"http://{server.http}/v2/models/image_cnn/stats").json()
    assert stats["model_stats"][0]["inference_stats"]["cache_hit"]["count"] >= 2
    metrics = httpx.get(f"http://{server.http}/metrics").text
    assert _metric(metrics, "nv_cache_num_hits_per_model", "image_cnn") >= 2
    assert _metric(metrics, "nv_cache_num_misses_per_model", "image_cnn") >= 1
    # A model that did not opt in is never cached.
    simple = {
        "inputs": [
            {"name": n, "datatype": "INT32", "shape": [1, 16], "data": [1] * 16}
            for n in ("INPUT0", "INPUT1")
        ]
    }
    for _ in range(2):
        response = httpx.post(f"http://{server.http}/v2/models/simple/infer", json=simple)
        assert "x-cache" not in response.headers


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    if redis_binary() is None:
        pytest.skip("redis-server binary not found (apt-get install redis-server)")
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.cleanup()


def test_two_gateway_processes_share_the_redis_cache(
    sample_repository: Path, redis: RedisServer
) -> None:
    env = {
        "MLINFER_CACHE_BACKEND": "redis",
        "MLINFER_CACHE_REDIS_URL": redis.url,
        "MLINFER_STARTUP_MODELS": '["image_cnn"]',
    }
    first, url_a = start_cli_server(sample_repository, env=env)
    second, url_b = start_cli_server(sample_repository, env=env)
    try:
        request = _image_request(seed=21)
        miss = httpx.post(f"http://{url_a}/v2/models/image_cnn/infer", json=request)
        assert miss.status_code == 200 and "x-cache" not in miss.headers
        hit = httpx.post(f"http://{url_b}/v2/models/image_cnn/infer", json=request)
        assert hit.headers.get("x-cache") == "HIT"
        assert hit.json()["outputs"] == miss.json()["outputs"]
    finally:
        for proc in (first, second):
            proc.terminate()
            proc.communicate(timeout=60)  # reap it and close its output pipe


def test_redis_outage_serves_uncached_then_recovers(
    sample_repository: Path, redis: RedisServer
) -> None:
    settings = settings_for(
        sample_repository,
        cache_backend="redis",
        cache_redis_url=redis.url,
        cache_redis_retry_seconds=0.05,
        startup_models=["image_cnn"],
    )
    with ServerThread(settings) as srv:
        url = f"http://{srv.http}/v2/models/image_cnn/infer"
        request = _image_request(seed=31)
        httpx.post(url, json=request)
        assert httpx.post(url, json=request).headers.get("x-cache") == "HIT"
        redis.kill()
        for seed in range(40, 44):  # Redis is gone: still served, just uncached
            response = httpx.post(url, json=_image_request(seed))
            assert response.status_code == 200
            assert "x-cache" not in response.headers
        metrics = httpx.get(f"http://{srv.http}/metrics").text
        assert (
            float(re.search(r"^mlinfer_cache_backend_errors_total (\S+)$", metrics, re.M).group(1))
            >= 1
        )  # type: ignore[union-attr]
        replacement = RedisServer(port=redis.port).start()
        try:
            fresh = _image_request(seed=77)

            def cached_again() -> bool:
                httpx.post(url, json=fresh)
                return httpx.post(url, json=fresh).headers.get("x-cache") == "HIT"

            wait_until(cached_again, "cache hits after Redis returned", attempts=500)
        finally:
            replacement.cleanup()


def _encoded(fmt: str, size: tuple[int, int] = (64, 48)) -> bytes:
    rng = np.random.default_rng(5)
    image = Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_image_endpoint_on_sample_cnn(server: ServerThread, fmt: str) -> None:
    data = _encoded(fmt)
    url = f"http://{server.http}/infer/image"
    multipart = httpx.post(
        url,
        params={"model": "image_cnn"},
        files={"image": (f"x.{fmt.lower()}", data, f"image/{fmt.lower()}")},
    )
    assert multipart.status_code == 200, multipart.text
    result = multipart.json()
    assert result["image"] == {"width": 64, "height": 48, "format": fmt}
    top = result["classifications"]
    assert len(top) == 3 and top[0]["label"].startswith("class_")
    assert top[0]["score"] >= top[1]["score"] >= top[2]["score"]
    raw = httpx.post(
        url,
        params={"model": "image_cnn", "top_k": 1},
        content=data,
        headers={"Content-Type": f"image/{fmt.lower()}"},
    )
    assert raw.status_code == 200
    assert raw.json()["classifications"] == top[:1]


def test_image_endpoint_rejects_bad_images(server: ServerThread) -> None:
    url = f"http://{server.http}/infer/image"
    not_image = httpx.post(url, params={"model": "image_cnn"}, content=b"plain text, no image")
    assert not_image.status_code == 400
    truncated = httpx.post(url, params={"model": "image_cnn"}, content=_encoded("PNG")[:200])
    assert truncated.status_code == 400
    gif = io.BytesIO()
    Image.new("RGB", (4, 4)).save(gif, format="GIF")
    unsupported = httpx.post(url, params={"model": "image_cnn"}, content=gif.getvalue())
    assert unsupported.status_code in (400, 415) and "GIF" in unsupported.json()["error"]
    missing_field = httpx.post(
        url, params={"model": "image_cnn"}, files={"photo": ("x.png", _encoded("PNG"), "image/png")}
    )
    assert missing_field.status_code == 400 and "'image'" in missing_field.json()["error"]
    no_model = httpx.post(url, content=_encoded("PNG"))
    assert no_model.status_code == 400


def test_oversized_image_is_413(sample_repository: Path) -> None:
    settings = settings_for(sample_repository, image_max_bytes=2000, startup_models=["image_cnn"])
    with ServerThread(settings) as srv:
        big = _encoded("PNG", size=(200, 200))
        assert len(big) > 2000
        url = f"http://{srv.http}/infer/image"
        raw = httpx.post(url, params={"model": "image_cnn"}, content=big)
        assert raw.status_code == 413 and "MLINFER_IMAGE_MAX_BYTES" in raw.json()["error"]
        upload = httpx.post(
            url, params={"model": "image_cnn"}, files={"image": ("x.png", big, "image/png")}
        )
        assert upload.status_code == 413
