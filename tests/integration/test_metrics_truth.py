"""The numbers mlinfer reports are Triton's numbers: what they count and what they say."""

from __future__ import annotations

import dataclasses
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np

from mlinfer.samples.writer import write_model
from tests.support.servers import ServerThread, settings_for
from tests.support.slow_model import slow_model


def _metric(text: str, name: str, model: str) -> float:
    match = re.search(rf'^{name}{{model="{model}",version="1"}} (\S+)$', text, re.M)
    assert match is not None, f"{name} for {model} missing"
    return float(match.group(1))


def test_cache_hits_count_as_successful_requests(sample_repository: Path) -> None:
    """Triton counts a cache hit in nv_inference_request_success and its duration, not in
    nv_inference_count (no inference ran)."""
    settings = settings_for(sample_repository, startup_models=["image_cnn"])
    image = np.random.default_rng(3).random((1, 3, 32, 32), dtype=np.float32)
    body = {
        "inputs": [
            {"name": "image", "datatype": "FP32", "shape": [1, 3, 32, 32],
             "data": image.reshape(-1).tolist()}
        ]
    }  # fmt: skip
    with ServerThread(settings) as srv:
        url = f"http://{srv.http}/v2/models/image_cnn/infer"
        assert "x-cache" not in httpx.post(url, json=body).headers
        metrics = httpx.get(f"http://{srv.http}/metrics").text
        duration_after_miss = _metric(metrics, "nv_inference_request_duration_us", "image_cnn")
        assert httpx.post(url, json=body).headers.get("x-cache") == "HIT"
        metrics = httpx.get(f"http://{srv.http}/metrics").text
        stats = httpx.get(f"http://{srv.http}/v2/models/image_cnn/stats").json()
    assert _metric(metrics, "nv_cache_num_hits_per_model", "image_cnn") == 1
    assert _metric(metrics, "nv_inference_request_success", "image_cnn") == 2
    assert _metric(metrics, "nv_inference_count", "image_cnn") == 1
    assert _metric(metrics, "nv_inference_request_duration_us", "image_cnn") > duration_after_miss
    inference = stats["model_stats"][0]["inference_stats"]
    assert inference["success"]["count"] == 2
    assert inference["cache_hit"]["count"] == 1


def test_failures_carry_tritons_reason_label(tmp_path: Path) -> None:
    """Requests the queue policy refuses are REJECTED; the other reasons exist at 0."""
    model = slow_model(iterations=100_000)
    config = model.config.replace(
        "dynamic_batching { priority_levels: 2 default_priority_level: 2 }",
        "dynamic_batching { default_queue_policy { max_queue_size: 1 } }",
    )
    assert config != model.config
    write_model(dataclasses.replace(model, config=config), tmp_path / "repo")
    body = {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 4], "data": [0] * 4}]}
    with ServerThread(settings_for(tmp_path / "repo")) as srv:
        url = f"http://{srv.http}/v2/models/slow/infer"
        with ThreadPoolExecutor(6) as pool:
            statuses = list(pool.map(lambda _: httpx.post(url, json=body, timeout=300), range(6)))
        metrics = httpx.get(f"http://{srv.http}/metrics").text
    rejected = sum(r.status_code == 503 for r in statuses)
    assert rejected >= 1, [r.status_code for r in statuses]
    pattern = r'^nv_inference_request_failure\{model="slow",reason="(\w+)",version="1"\} (\S+)$'
    reasons = dict(re.findall(pattern, metrics, re.M))
    assert reasons == {"OTHER": "0", "BACKEND": "0", "CANCELED": "0", "REJECTED": str(rejected)}
