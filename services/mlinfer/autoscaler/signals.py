"""Signals from Prometheus text: a server's Triton-named metrics and the exporter's device ones.

Counters are cumulative, so rates and per-request queue times come from the difference
between two scrapes; :class:`SignalTracker` keeps the previous one per model. A counter that
went down (the server restarted, a model reloaded) gives no rate for that interval rather
than a negative one.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

from mlinfer.autoscaler.policy import Signals

_COMPUTE = (
    "nv_inference_compute_input_duration_us",
    "nv_inference_compute_infer_duration_us",
    "nv_inference_compute_output_duration_us",
)
_COUNTERS = (
    "nv_inference_request_success",
    "nv_inference_request_failure",
    "nv_inference_queue_duration_us",
    "nv_inference_exec_count",
    *_COMPUTE,
)
_PENDING = "nv_inference_pending_request_count"


@dataclass(frozen=True)
class ModelCounters:
    """One model's metrics in one scrape, summed over its versions."""

    pending: float
    counters: dict[str, float]


@dataclass(frozen=True)
class DeviceSignals:
    utilization: float | None = None  # busiest GPU, 0..1
    temperature_c: float | None = None  # hottest online sensor
    throttled: bool = False
    free_memory_bytes: float | None = None


def parse_server_metrics(text: str) -> dict[str, ModelCounters]:
    """Per-model counters from a server's ``/metrics`` (mlinfer's or Triton's)."""
    sums: dict[str, dict[str, float]] = {}
    pending: dict[str, float] = defaultdict(float)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            model = sample.labels.get("model")
            name = _base_name(sample.name)
            if model is None or (name != _PENDING and name not in _COUNTERS):
                continue
            counters = sums.setdefault(model, dict.fromkeys(_COUNTERS, 0.0))
            if name == _PENDING:
                pending[model] += sample.value
            else:
                counters[name] += sample.value
    return {m: ModelCounters(pending[m], dict(c)) for m, c in sums.items()}


def parse_device_metrics(text: str) -> DeviceSignals:
    """Device state from the exporter's ``/metrics`` (also Triton's own nv_gpu_* on x86)."""
    util: list[float] = []
    temps: list[float] = []
    used: dict[str, float] = {}
    total: dict[str, float] = {}
    host_available: float | None = None
    throttled = False
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            name, labels, value = sample.name, sample.labels, sample.value
            if name == "nv_gpu_utilization":
                util.append(value)
            elif name == "mlinfer_device_temperature_celsius":
                temps.append(value)
            elif name == "mlinfer_device_throttled" and value > 0:
                throttled = True
            elif name == "nv_gpu_memory_used_bytes":
                used[labels.get("gpu_uuid", "")] = value
            elif name == "nv_gpu_memory_total_bytes":
                total[labels.get("gpu_uuid", "")] = value
            elif name == "mlinfer_host_memory_available_bytes":
                host_available = value
    gpu_free = [total[g] - used[g] for g in total if g in used]
    # Jetson shares one memory between CPU and GPU: the host figure is the one that counts.
    free = min(gpu_free) if gpu_free else host_available
    return DeviceSignals(
        utilization=max(util) if util else None,
        temperature_c=max(temps) if temps else None,
        throttled=throttled,
        free_memory_bytes=free,
    )


def _base_name(name: str) -> str:
    # prometheus_client's parser may report counters with or without the _total suffix.
    return name[: -len("_total")] if name.endswith("_total") else name


class SignalTracker:
    """Turns successive scrapes into :class:`Signals` per model."""

    def __init__(self) -> None:
        self._previous: dict[str, tuple[float, ModelCounters]] = {}

    def update(
        self,
        model: str,
        counters: ModelCounters | None,
        device: DeviceSignals,
        instances: int,
        now: float,
    ) -> Signals:
        if counters is None:  # the server does not report the model (yet)
            return Signals(
                temperature_c=device.temperature_c,
                throttled=device.throttled,
                free_memory_bytes=device.free_memory_bytes,
                utilization=device.utilization,
            )
        previous = self._previous.get(model)
        self._previous[model] = (now, counters)
        queue_per_request: float | None = None
        rate = 0.0
        busy: float | None = None
        if previous is not None and now > previous[0]:
            then, old = previous
            delta = {k: counters.counters[k] - old.counters.get(k, 0.0) for k in _COUNTERS}
            if all(v >= 0 for v in delta.values()):
                requests = (
                    delta["nv_inference_request_success"] + delta["nv_inference_request_failure"]
                )
                rate = requests / (now - then)
                if requests > 0:
                    queue_per_request = delta["nv_inference_queue_duration_us"] / requests
                busy = _busy_fraction(delta, now - then, instances)
        return Signals(
            pending=counters.pending,
            queue_us_per_request=queue_per_request,
            request_rate=rate,
            utilization=device.utilization if device.utilization is not None else busy,
            temperature_c=device.temperature_c,
            throttled=device.throttled,
            free_memory_bytes=device.free_memory_bytes,
        )


def _busy_fraction(delta: dict[str, float], seconds: float, instances: int) -> float:
    """Fraction of instance time spent computing, when no GPU utilization is reported.

    Triton adds a batch's compute time to every request in it, so the per-request sum is
    scaled by executions per request to count each execution once.
    """
    compute_us = sum(delta[k] for k in _COMPUTE)
    requests = delta["nv_inference_request_success"]
    if requests <= 0:
        return 0.0
    per_execution = delta["nv_inference_exec_count"] / requests
    return min(1.0, compute_us * per_execution / (seconds * 1e6 * max(instances, 1)))
