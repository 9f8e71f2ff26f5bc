"""Per model-version statistics in Triton's shape; the source of /stats and of nv_* metrics.

Updated only from the event loop thread, so no locks are needed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Duration:
    count: int = 0
    ns: int = 0

    def add(self, ns: int, count: int = 1) -> None:
        self.count += count
        self.ns += ns

    def as_dict(self) -> dict[str, int]:
        return {"count": self.count, "ns": self.ns}


@dataclass
class BatchStats:
    compute_input: Duration = field(default_factory=Duration)
    compute_infer: Duration = field(default_factory=Duration)
    compute_output: Duration = field(default_factory=Duration)


@dataclass
class ExecutionTiming:
    """Wall times of one batch execution, measured on the worker thread."""

    input_ns: int
    infer_ns: int
    output_ns: int


@dataclass
class ModelStats:
    name: str
    version: str
    success: Duration = field(default_factory=Duration)
    fail: Duration = field(default_factory=Duration)
    queue: Duration = field(default_factory=Duration)
    compute_input: Duration = field(default_factory=Duration)
    compute_infer: Duration = field(default_factory=Duration)
    compute_output: Duration = field(default_factory=Duration)
    cache_hit: Duration = field(default_factory=Duration)
    cache_miss: Duration = field(default_factory=Duration)
    inference_count: int = 0  # batch elements inferred
    execution_count: int = 0  # model executions (batches)
    last_inference_ms: int = 0
    pending: int = 0  # queued + executing requests
    batches: dict[int, BatchStats] = field(default_factory=dict)

    def record_execution(self, batch_size: int, requests: int, timing: ExecutionTiming) -> None:
        self.execution_count += 1
        self.inference_count += batch_size
        self.last_inference_ms = int(time.time() * 1000)
        # Like Triton: each request in the batch is charged the batch's compute time.
        self.compute_input.add(timing.input_ns * requests, requests)
        self.compute_infer.add(timing.infer_ns * requests, requests)
        self.compute_output.add(timing.output_ns * requests, requests)
        batch = self.batches.setdefault(batch_size, BatchStats())
        batch.compute_input.add(timing.input_ns)
        batch.compute_infer.add(timing.infer_ns)
        batch.compute_output.add(timing.output_ns)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "last_inference": self.last_inference_ms,
            "inference_count": self.inference_count,
            "execution_count": self.execution_count,
            "inference_stats": {
                "success": self.success.as_dict(),
                "fail": self.fail.as_dict(),
                "queue": self.queue.as_dict(),
                "compute_input": self.compute_input.as_dict(),
                "compute_infer": self.compute_infer.as_dict(),
                "compute_output": self.compute_output.as_dict(),
                "cache_hit": self.cache_hit.as_dict(),
                "cache_miss": self.cache_miss.as_dict(),
            },
            "batch_stats": [
                {
                    "batch_size": size,
                    "compute_input": b.compute_input.as_dict(),
                    "compute_infer": b.compute_infer.as_dict(),
                    "compute_output": b.compute_output.as_dict(),
                }
                for size, b in sorted(self.batches.items())
            ],
            "memory_usage": [],
        }


@dataclass(frozen=True)
class ModelMetricsSnapshot:
    """Per model-version counters in Triton's statistics shape, plus the pending gauge."""

    stats: dict[str, Any]
    pending: int
