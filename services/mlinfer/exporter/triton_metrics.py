"""Triton's ``nv_inference_*`` metrics, rendered from the same statistics as ``/stats``.

Triton names its counters without the ``_total`` suffix that prometheus_client appends, so
dashboards written for Triton work unchanged only if these families are rendered as Triton
renders them; that is the one piece of exposition written here by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from mlinfer.backends.base import ModelMetricsSnapshot

_Getter = Callable[[dict[str, Any]], float]


def _stat(kind: str, field: str, scale: float = 1.0) -> _Getter:
    return lambda s: s["inference_stats"][kind][field] * scale


COUNTERS: tuple[tuple[str, str, _Getter], ...] = (
    ("nv_inference_request_success", "Number of successful inference requests, all batch sizes",
     _stat("success", "count")),
    ("nv_inference_request_failure", "Number of failed inference requests, all batch sizes",
     _stat("fail", "count")),
    ("nv_inference_count", "Number of inferences performed (does not include cached requests)",
     lambda s: s["inference_count"]),
    ("nv_inference_exec_count",
     "Number of model executions performed (does not include cached requests)",
     lambda s: s["execution_count"]),
    ("nv_inference_request_duration_us",
     "Cumulative inference request duration in microseconds (includes cached requests)",
     _stat("success", "ns", 1e-3)),
    ("nv_inference_queue_duration_us", "Cumulative inference queuing duration in microseconds",
     _stat("queue", "ns", 1e-3)),
    ("nv_inference_compute_input_duration_us",
     "Cumulative compute input duration in microseconds", _stat("compute_input", "ns", 1e-3)),
    ("nv_inference_compute_infer_duration_us",
     "Cumulative compute inference duration in microseconds", _stat("compute_infer", "ns", 1e-3)),
    ("nv_inference_compute_output_duration_us",
     "Cumulative inference compute output duration in microseconds",
     _stat("compute_output", "ns", 1e-3)),
    ("nv_cache_num_hits_per_model", "Number of cache hits per model",
     _stat("cache_hit", "count")),
    ("nv_cache_num_misses_per_model", "Number of cache misses per model",
     _stat("cache_miss", "count")),
    ("nv_cache_hit_duration_per_model",
     "Total cache hit duration per model, in microseconds", _stat("cache_hit", "ns", 1e-3)),
    ("nv_cache_miss_duration_per_model",
     "Total cache miss (insertion) duration per model, in microseconds",
     _stat("cache_miss", "ns", 1e-3)),
)  # fmt: skip


def render(snapshots: Sequence[ModelMetricsSnapshot]) -> str:
    lines: list[str] = []
    for name, help_text, get in COUNTERS:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} counter")
        for snap in snapshots:
            lines.append(f"{name}{_labels(snap.stats)} {_number(get(snap.stats))}")
    lines.append(
        "# HELP nv_inference_pending_request_count Instantaneous number of pending "
        "requests awaiting execution per-model."
    )
    lines.append("# TYPE nv_inference_pending_request_count gauge")
    for snap in snapshots:
        lines.append(f"nv_inference_pending_request_count{_labels(snap.stats)} {snap.pending}")
    return "\n".join(lines) + "\n"


def _labels(stats: dict[str, Any]) -> str:
    model = str(stats["name"]).replace("\\", "\\\\").replace('"', '\\"')
    return f'{{model="{model}",version="{stats["version"]}"}}'


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
