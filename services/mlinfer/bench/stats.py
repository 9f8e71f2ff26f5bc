"""Aggregating load-generator samples: throughput, latency percentiles, errors."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

PERCENTILES = (50, 90, 95, 99)


def percentile(values: Sequence[float] | np.ndarray[Any, Any], q: float) -> float | None:
    """The ``q``-th percentile (0..100) with linear interpolation; None without samples."""
    if len(values) == 0:
        return None
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


@dataclass
class WorkerSamples:
    """What one load-generating process measured during one level's window."""

    latencies_ns: list[int] = field(default_factory=list)
    """Latency of each request that completed successfully inside the window."""
    errors: int = 0
    error_messages: Counter[str] = field(default_factory=Counter)
    window_s: float = 0.0
    """Length of the measurement window."""
    cpu_s: float = 0.0
    """CPU time the process spent during the window (user + system)."""

    def error(self, message: str) -> None:
        self.errors += 1
        self.error_messages[message[:300]] += 1


@dataclass(frozen=True)
class LevelResult:
    """One load level (a concurrency) of one run, aggregated over its worker processes."""

    model: str
    protocol: str
    encoding: str
    batch_size: int
    concurrency: int
    window_s: float
    requests: int
    errors: int
    requests_per_s: float
    infer_per_s: float
    """Requests per second times the batch size each request carries."""
    latency_ms: dict[str, float | None]
    """``p50``, ``p90``, ``p95``, ``p99``, ``mean``, ``min``, ``max``."""
    client_cpu_ms_per_request: float | None
    """Load generator CPU per request: how much of the machine the client itself took."""
    error_messages: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def csv_row(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            k: v for k, v in self.as_dict().items() if k not in ("latency_ms", "error_messages")
        }
        for key, value in self.latency_ms.items():
            row[f"latency_{key}_ms"] = value
        row["first_error"] = next(iter(self.error_messages), "")
        return row


def aggregate(
    samples: Iterable[WorkerSamples],
    *,
    model: str,
    protocol: str,
    encoding: str,
    batch_size: int,
    concurrency: int,
) -> LevelResult:
    """Merge the workers of one level: rates add up, latencies pool."""
    parts = list(samples)
    latencies = np.concatenate(
        [np.asarray(p.latencies_ns, dtype=np.float64) for p in parts] or [np.empty(0)]
    )
    latencies_ms = latencies / 1e6
    requests = int(latencies.size)
    errors = sum(p.errors for p in parts)
    rate = sum(len(p.latencies_ns) / p.window_s for p in parts if p.window_s > 0)
    window = max((p.window_s for p in parts), default=0.0)
    messages: Counter[str] = Counter()
    for p in parts:
        messages.update(p.error_messages)
    stats: dict[str, float | None] = {f"p{q}": percentile(latencies_ms, q) for q in PERCENTILES}
    stats["mean"] = float(latencies_ms.mean()) if requests else None
    stats["min"] = float(latencies_ms.min()) if requests else None
    stats["max"] = float(latencies_ms.max()) if requests else None
    cpu = sum(p.cpu_s for p in parts)
    done = requests + errors
    return LevelResult(
        model=model,
        protocol=protocol,
        encoding=encoding,
        batch_size=batch_size,
        concurrency=concurrency,
        window_s=window,
        requests=requests,
        errors=errors,
        requests_per_s=rate,
        infer_per_s=rate * batch_size,
        latency_ms=stats,
        client_cpu_ms_per_request=(cpu * 1000 / done) if done else None,
        error_messages=dict(messages.most_common(5)),
    )
