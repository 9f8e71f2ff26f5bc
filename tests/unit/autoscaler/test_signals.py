"""Signals from real exposition text: mlinfer's Triton-named metrics, Triton's, the exporter's."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlinfer.autoscaler.signals import (
    DeviceSignals,
    SignalTracker,
    parse_device_metrics,
    parse_server_metrics,
)
from mlinfer.backends.base import ModelMetricsSnapshot
from mlinfer.core.stats import ExecutionTiming, ModelStats
from mlinfer.exporter.triton_metrics import render

NVML_H200 = Path(__file__).parents[1] / "exporter" / "data" / "nvml_h200.txt"


def _scrape(requests: int, queue_ns_each: int, batches: int, pending: int) -> str:
    """What mlinfer's /metrics says after ``requests`` requests run in ``batches`` batches."""
    stats = ModelStats("image_cnn", "1")
    for _ in range(requests):
        stats.success.add(2_000_000)
        stats.queue.add(queue_ns_each)
    per_batch = requests // batches
    for _ in range(batches):
        stats.record_execution(per_batch, per_batch, ExecutionTiming(0, 10_000_000, 0))
    other = ModelStats("simple", "1")
    return render(
        [ModelMetricsSnapshot(stats.to_proto(), pending), ModelMetricsSnapshot(other.to_proto(), 0)]
    )


def test_server_metrics_sum_versions_per_model() -> None:
    text = _scrape(10, 1000, 5, pending=3)
    two_versions = text + text.replace('version="1"', 'version="2"')
    parsed = parse_server_metrics(two_versions.replace("# HELP", "# X").replace("# TYPE", "# Y"))
    assert parsed["image_cnn"].pending == 6
    assert parsed["image_cnn"].counters["nv_inference_request_success"] == 20
    assert parsed["simple"].pending == 0


def test_tritons_own_exposition_parses_the_same() -> None:
    triton = (
        "# HELP nv_inference_request_success Number of successful inference requests\n"
        "# TYPE nv_inference_request_success counter\n"
        'nv_inference_request_success{model="m",version="1"} 42\n'
        "# TYPE nv_inference_pending_request_count gauge\n"
        'nv_inference_pending_request_count{model="m",version="1"} 7\n'
        "# TYPE nv_gpu_utilization gauge\n"
        'nv_gpu_utilization{gpu_uuid="GPU-1"} 0.5\n'
    )
    parsed = parse_server_metrics(triton)
    assert parsed["m"].counters["nv_inference_request_success"] == 42
    assert parsed["m"].pending == 7
    assert parse_device_metrics(triton).utilization == 0.5


def test_queue_time_per_request_rate_and_busy_fraction_from_two_scrapes() -> None:
    tracker = SignalTracker()
    device = DeviceSignals()
    before = parse_server_metrics(_scrape(10, 1_000_000, 5, 0))["image_cnn"]
    first = tracker.update("image_cnn", before, device, 2, 100.0)
    assert first.queue_us_per_request is None and first.request_rate == 0
    # 40 more requests in 20 more batches of 2 (10 ms each), over 2 s.
    later = parse_server_metrics(_scrape(50, 4_200_000, 25, 6))["image_cnn"]
    second = tracker.update("image_cnn", later, device, 2, 102.0)
    assert second.request_rate == pytest.approx(20.0)
    queued_us = (50 * 4200 - 10 * 1000) / 40
    assert second.queue_us_per_request == pytest.approx(queued_us)
    assert second.pending == 6
    # 20 executions of 10 ms in 2 s on 2 instances: 200 ms of 4 instance-seconds.
    assert second.utilization == pytest.approx(20 * 0.010 / (2 * 2))


def test_a_counter_reset_gives_no_rate_instead_of_a_negative_one() -> None:
    tracker = SignalTracker()
    before = parse_server_metrics(_scrape(50, 1000, 10, 0))["image_cnn"]
    tracker.update("image_cnn", before, DeviceSignals(), 1, 0.0)
    after_reload = parse_server_metrics(_scrape(5, 1000, 5, 0))["image_cnn"]
    signals = tracker.update("image_cnn", after_reload, DeviceSignals(), 1, 5.0)
    assert signals.queue_us_per_request is None and signals.request_rate == 0


def test_gpu_utilization_wins_over_the_busy_fraction() -> None:
    tracker = SignalTracker()
    counters = parse_server_metrics(_scrape(10, 1000, 10, 0))["image_cnn"]
    signals = tracker.update("image_cnn", counters, DeviceSignals(utilization=0.8), 1, 0.0)
    assert signals.utilization == 0.8


def test_device_signals_from_the_exporters_real_nvml_output() -> None:
    # Recorded on the H200 machine with bench/nvml_probe.py: idle, then a matmul loop.
    idle, busy = NVML_H200.read_text().split("==== under a bf16 matmul loop")
    idle_signals = parse_device_metrics(idle.split("==== idle", 1)[1])
    busy_signals = parse_device_metrics(busy.rsplit("rc=", 1)[0])
    assert idle_signals.utilization == 0.0 and busy_signals.utilization == 1.0
    assert busy_signals.temperature_c is not None and idle_signals.temperature_c is not None
    assert busy_signals.temperature_c > idle_signals.temperature_c
    assert busy_signals.throttled is False  # sw_power_cap alone is not a thermal slowdown
    total = 150754820096
    assert busy_signals.free_memory_bytes == total - 1665007616


def test_jetson_shared_memory_and_throttle_from_the_exporter() -> None:
    text = (
        "mlinfer_host_memory_available_bytes 3.0e9\n"
        'mlinfer_device_temperature_celsius{sensor="tj"} 71.5\n'
        'mlinfer_device_temperature_celsius{sensor="gpu"} 69.0\n'
        'mlinfer_device_throttled{device="thermal"} 1\n'
    )
    signals = parse_device_metrics(text)
    assert signals.free_memory_bytes == 3.0e9
    assert signals.temperature_c == 71.5
    assert signals.throttled is True
