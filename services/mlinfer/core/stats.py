"""Per model-version statistics; the source of /stats and of nv_* metrics.

Counted here, handed out as tritonclient's ``ModelStatistics`` message (the type Triton's
own statistics API returns), rendered to JSON in one place (:mod:`mlinfer.core.proto_json`).
Updated only from the event loop thread, so no locks are needed.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from tritonclient.grpc import service_pb2 as pb

# Triton's reasons, in the order it exports them: REJECTED = refused by the queue policy
# (full, timed out), CANCELED = the client went away, BACKEND = the model execution failed,
# OTHER = anything else (e.g. unloaded before it ran).
FAILURE_REASONS = ("OTHER", "BACKEND", "CANCELED", "REJECTED")


@dataclass
class Duration:
    count: int = 0
    ns: int = 0

    def add(self, ns: int, count: int = 1) -> None:
        self.count += count
        self.ns += ns

    def to_proto(self) -> pb.StatisticDuration:
        return pb.StatisticDuration(count=self.count, ns=self.ns)


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
    # Failed requests by Triton's reason label (nv_inference_request_failure{reason}).
    failures: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FAILURE_REASONS, 0))

    def record_failure(self, reason: str, ns: int) -> None:
        self.fail.add(ns)
        self.failures[reason] += 1

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

    def to_proto(self) -> pb.ModelStatistics:
        return pb.ModelStatistics(
            name=self.name,
            version=self.version,
            last_inference=self.last_inference_ms,
            inference_count=self.inference_count,
            execution_count=self.execution_count,
            inference_stats=pb.InferStatistics(
                success=self.success.to_proto(),
                fail=self.fail.to_proto(),
                queue=self.queue.to_proto(),
                compute_input=self.compute_input.to_proto(),
                compute_infer=self.compute_infer.to_proto(),
                compute_output=self.compute_output.to_proto(),
                cache_hit=self.cache_hit.to_proto(),
                cache_miss=self.cache_miss.to_proto(),
            ),
            batch_stats=[
                pb.InferBatchStatistics(
                    batch_size=size,
                    compute_input=b.compute_input.to_proto(),
                    compute_infer=b.compute_infer.to_proto(),
                    compute_output=b.compute_output.to_proto(),
                )
                for size, b in sorted(self.batches.items())
            ],
        )


@dataclass(frozen=True)
class ModelMetricsSnapshot:
    """Per model-version counters in Triton's statistics shape, plus the pending gauge.

    ``engine`` is False for a snapshot that holds only the response cache's counts (a model
    served by a Triton in front of which the cache sits): only the cache families are
    rendered from it, Triton exporting the rest.
    """

    stats: pb.ModelStatistics
    pending: int
    engine: bool = True
    failures: Mapping[str, int] = field(default_factory=dict)  # by reason; empty = unknown
