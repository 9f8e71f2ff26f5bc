"""Triton's metric names, types and units, rendered from Triton-shaped statistics."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from mlinfer.backends.base import ModelMetricsSnapshot
from mlinfer.core.stats import ExecutionTiming, ModelStats
from mlinfer.exporter.triton_metrics import render


def test_counters_keep_tritons_names_and_microseconds() -> None:
    stats = ModelStats('my"model', "2")
    stats.success.add(3_000, count=2)
    stats.queue.add(1_500, count=2)
    stats.record_execution(batch_size=2, requests=2, timing=ExecutionTiming(100, 2_000, 300))
    text = render([ModelMetricsSnapshot(stats.to_proto(), pending=4)])
    assert "# TYPE nv_inference_count counter" in text  # no _total suffix, as Triton
    assert 'nv_inference_count{model="my\\"model",version="2"} 2' in text
    assert 'nv_inference_exec_count{model="my\\"model",version="2"} 1' in text
    assert 'nv_inference_request_duration_us{model="my\\"model",version="2"} 3' in text
    assert 'nv_inference_compute_infer_duration_us{model="my\\"model",version="2"} 4' in text
    assert 'nv_inference_pending_request_count{model="my\\"model",version="2"} 4' in text
    # The exposition parses as Prometheus text.
    families = {f.name for f in text_string_to_metric_families(text)}
    assert {"nv_inference_queue_duration_us", "nv_cache_num_hits_per_model"} <= families
