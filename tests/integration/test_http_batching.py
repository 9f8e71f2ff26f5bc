"""Batching and priorities observed through the real server and its /metrics."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import tritonclient.http as httpclient

from mlinfer.samples.writer import write_model
from tests.support.servers import ServerThread, settings_for, wait_until
from tests.support.slow_model import slow_model


def _metric(text: str, name: str, model: str) -> float:
    match = re.search(rf'^{name}{{model="{model}",version="1"}} (\S+)$', text, re.M)
    assert match, f"{name} for {model} missing from /metrics"
    return float(match.group(1))


def test_concurrent_load_on_cnn_is_batched(server: ServerThread) -> None:
    metrics_url = f"http://{server.http}/metrics"
    before = httpx.get(metrics_url).text
    def worker(index: int) -> None:
        # Distinct inputs: image_cnn caches responses, and hits would never execute.
        rng = np.random.default_rng(1000 + index)
        client = httpclient.InferenceServerClient(server.http)
        for _ in range(25):
            tensor = httpclient.InferInput("image", [1, 3, 32, 32], "FP32")
            tensor.set_data_from_numpy(rng.random((1, 3, 32, 32), dtype=np.float32))
            client.infer("image_cnn", [tensor])
        client.close()

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(worker, range(16)))
    after = httpx.get(metrics_url).text
    count = _metric(after, "nv_inference_count", "image_cnn") - _metric(
        before, "nv_inference_count", "image_cnn"
    )
    executions = _metric(after, "nv_inference_exec_count", "image_cnn") - _metric(
        before, "nv_inference_exec_count", "image_cnn"
    )
    assert count == 16 * 25
    assert executions < count, "16 concurrent clients should have been batched"
    stats = httpclient.InferenceServerClient(server.http).get_inference_statistics("image_cnn")
    assert max(b["batch_size"] for b in stats["model_stats"][0]["batch_stats"]) > 1
    assert _metric(after, "nv_inference_request_duration_us", "image_cnn") > 0


def test_high_priority_request_overtakes_queue(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write_model(slow_model(iterations=400_000), repo)  # about a second per request here
    with ServerThread(settings_for(repo)) as srv:
        url = f"http://{srv.http}/v2/models/slow/infer"
        order: list[str] = []

        def send(tag: str, priority: int) -> None:
            body = {
                "inputs": [
                    {"name": "INPUT0", "datatype": "FP32", "shape": [1, 4], "data": [0, 0, 0, 0]}
                ],
                "parameters": {"priority": priority},
            }
            assert httpx.post(url, json=body, timeout=120).status_code == 200
            order.append(tag)

        def counts() -> tuple[float, float]:
            """(requests held: queued + executing, requests done) for the slow model."""
            text = httpx.get(f"http://{srv.http}/metrics").text
            return (
                _metric(text, "nv_inference_pending_request_count", "slow"),
                _metric(text, "nv_inference_request_success", "slow"),
            )

        with ThreadPoolExecutor(8) as pool:
            lows = [pool.submit(send, f"low{i}", 2) for i in range(6)]
            # All six arrived (a loaded machine may already have finished the first ones).
            wait_until(lambda: sum(counts()) >= 6, "six low-priority requests arrived")
            done_before = int(counts()[1])
            high = pool.submit(send, "high", 1)
            for f in [*lows, high]:
                f.result()
        # One low executes when "high" arrives; every low still queued must finish after it.
        assert order.index("high") <= done_before + 2, (done_before, order)
