"""Stage 6a: latency, throughput and memory of one model file on ONNX Runtime's CPU provider.

Latency is per call at batch 1 (p50/p99 over a timed window); throughput is samples per
second at each batch size, the best one reported. Memory is the process's resident-set growth
from before the session was created to the highest point while it ran: what serving it adds.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from mlinfer.optimizer.config import Profiling
from mlinfer.optimizer.data import Dataset, Feeds
from mlinfer.optimizer.runner import open_session


@dataclass(frozen=True)
class ProfileResult:
    p50_ms: float
    p99_ms: float
    best_batch: int
    throughput: float
    """Samples per second at ``best_batch``."""
    throughput_by_batch: dict[int, float]
    size_bytes: int
    peak_memory_mb: float
    backend: str = "onnxruntime-cpu"

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["throughput_by_batch"] = {str(k): v for k, v in self.throughput_by_batch.items()}
        return data


def _feeds(dataset: Dataset, batch: int) -> Feeds:
    """``batch`` samples (repeating the data if it holds fewer)."""
    index = np.arange(batch) % len(dataset)
    return {k: np.ascontiguousarray(v[index]) for k, v in dataset.inputs.items()}


def _timed(run: Callable[[], object], options: Profiling) -> list[float]:
    for _ in range(options.warmup_runs):
        run()
    times: list[float] = []
    deadline = time.perf_counter() + options.seconds
    while len(times) < options.min_runs or time.perf_counter() < deadline:
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return times


def profile_model(
    path: Path,
    dataset: Dataset,
    batch_sizes: Sequence[int],
    options: Profiling,
    *,
    threads: int = 0,
    progress: Callable[[str], None] = lambda _: None,
) -> ProfileResult:
    process = psutil.Process()
    baseline = process.memory_info().rss
    peak = baseline
    session = open_session(path, threads=threads)
    names = [o.name for o in session.get_outputs()]
    sizes = sorted(set(batch_sizes) | {1}) if dataset.batched else [1]
    per_batch: dict[int, float] = {}
    p50 = p99 = 0.0
    for batch in sizes:
        feeds = (
            _feeds(dataset, batch)
            if dataset.batched
            else {k: v[0] for k, v in dataset.inputs.items()}
        )
        times = _timed(functools.partial(session.run, names, feeds), options)
        peak = max(peak, process.memory_info().rss)
        per_batch[batch] = batch * len(times) / sum(times)
        if batch == 1:
            p50, p99 = (float(np.percentile(times, q)) * 1e3 for q in (50, 99))
        progress(f"batch {batch}: {per_batch[batch]:.1f} samples/s")
    best = max(per_batch, key=lambda b: per_batch[b])
    return ProfileResult(
        p50_ms=p50,
        p99_ms=p99,
        best_batch=best,
        throughput=per_batch[best],
        throughput_by_batch=per_batch,
        size_bytes=path.stat().st_size,
        peak_memory_mb=(peak - baseline) / 2**20,
    )
