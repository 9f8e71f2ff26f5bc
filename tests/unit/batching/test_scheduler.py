"""The dynamic batcher, driven by a runner the test controls (no timing assumptions)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from tritonclient.grpc import model_config_pb2 as mc

from mlinfer.batching.queue import PendingRequest, PriorityQueue, QueuePolicy
from mlinfer.batching.scheduler import BatchingPolicy, Scheduler
from mlinfer.core.errors import ModelNotReadyError, UnavailableError
from mlinfer.core.types import InferRequest, Tensor


class GatedRunner:
    """Records each batch; blocks every execution until the test opens the gate."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.gate = threading.Event()
        self.started = threading.Semaphore(0)

    def __call__(self, instance: int, batch: Sequence[PendingRequest]) -> list[Any]:
        self.started.release()
        self.gate.wait()
        self.batches.append([p.request.id for p in batch])
        return [p.request.id for p in batch]


def _request(rid: str, priority: int = 0, timeout_us: int = 0, width: int = 4) -> InferRequest:
    data = np.zeros((1, width), np.float32)
    return InferRequest(
        "m",
        [Tensor("x", "FP32", data.shape, data)],
        id=rid,
        priority=priority,
        timeout_us=timeout_us,
    )


def _key(width: int = 4) -> Any:
    return (("x", "FP32", (width,)),)


async def _wait_started(runner: GatedRunner) -> None:
    await asyncio.to_thread(runner.started.acquire)


def _scheduler(
    runner: GatedRunner,
    policy: BatchingPolicy,
    queue: PriorityQueue | None = None,
    instances: int = 1,
) -> Scheduler:
    s = Scheduler("m:1", policy, queue if queue is not None else PriorityQueue(), instances, runner)
    s.start()
    return s


DYNAMIC = BatchingPolicy(max_batch_size=8, dynamic=True)


async def test_queued_requests_are_batched_together() -> None:
    runner = GatedRunner()
    s = _scheduler(runner, DYNAMIC)
    first = s.submit(_request("a"), 1, _key()).future
    await _wait_started(runner)  # "a" occupies the only instance
    rest = [s.submit(_request(f"r{i}"), 1, _key()).future for i in range(5)]
    runner.gate.set()
    assert await first == "a"
    assert await asyncio.gather(*rest) == [f"r{i}" for i in range(5)]
    assert runner.batches == [["a"], ["r0", "r1", "r2", "r3", "r4"]]
    await s.drain_and_stop()


async def test_batch_respects_max_size_and_shapes() -> None:
    runner = GatedRunner()
    s = _scheduler(runner, BatchingPolicy(max_batch_size=4, dynamic=True))
    blocker = s.submit(_request("a"), 1, _key()).future
    await _wait_started(runner)
    futures = [
        s.submit(_request("b3"), 3, _key()).future,
        s.submit(_request("c2"), 2, _key()).future,  # 3 + 2 > 4: next batch
        s.submit(_request("d1"), 1, _key(width=5)).future,  # other shape: never with c2
    ]
    runner.gate.set()
    await asyncio.gather(blocker, *futures)
    assert runner.batches == [["a"], ["b3"], ["c2"], ["d1"]]
    await s.drain_and_stop()


async def test_higher_priority_overtakes_queued_requests() -> None:
    runner = GatedRunner()
    queue = PriorityQueue(levels=2, default_level=2)
    s = _scheduler(runner, BatchingPolicy(max_batch_size=1, dynamic=True), queue)
    blocker = s.submit(_request("busy"), 1, _key()).future
    await _wait_started(runner)
    low = [s.submit(_request(f"low{i}", priority=2), 1, _key()).future for i in range(3)]
    high = s.submit(_request("high", priority=1), 1, _key()).future
    runner.gate.set()
    await asyncio.gather(blocker, high, *low)
    assert runner.batches == [["busy"], ["high"], ["low0"], ["low1"], ["low2"]]
    await s.drain_and_stop()


async def test_priority_zero_and_out_of_range_use_default_level() -> None:
    queue = PriorityQueue(levels=3, default_level=2)
    assert queue.level_for(0) == 2
    assert queue.level_for(9) == 2
    assert queue.level_for(1) == 1


async def test_max_queue_size_rejects_as_unavailable() -> None:
    runner = GatedRunner()
    queue = PriorityQueue(default_policy=QueuePolicy(max_queue_size=2))
    s = _scheduler(runner, BatchingPolicy(max_batch_size=1, dynamic=True), queue)
    blocker = s.submit(_request("busy"), 1, _key()).future
    await _wait_started(runner)
    queued = [s.submit(_request(f"q{i}"), 1, _key()).future for i in range(2)]
    with pytest.raises(UnavailableError, match="Exceeds maximum queue size") as info:
        s.submit(_request("overflow"), 1, _key())
    assert info.value.retry_after_s is not None
    runner.gate.set()
    await asyncio.gather(blocker, *queued)
    await s.drain_and_stop()


async def test_queue_timeout_reject_and_override() -> None:
    runner = GatedRunner()
    policy = QueuePolicy(default_timeout_us=60_000_000, allow_timeout_override=True)
    s = _scheduler(
        runner, BatchingPolicy(max_batch_size=1, dynamic=True), PriorityQueue(default_policy=policy)
    )
    blocker = s.submit(_request("busy"), 1, _key()).future
    await _wait_started(runner)
    short = s.submit(_request("short", timeout_us=1000), 1, _key()).future  # overrides 60 s
    with pytest.raises(UnavailableError, match="Request timeout expired"):
        await short
    runner.gate.set()
    assert await blocker == "busy"
    assert runner.batches == [["busy"]]
    await s.drain_and_stop()


async def test_timeout_override_ignored_when_not_allowed() -> None:
    policy = QueuePolicy(default_timeout_us=0, allow_timeout_override=False)
    assert policy.timeout_us(1000) == 0
    assert QueuePolicy(default_timeout_us=5, allow_timeout_override=True).timeout_us(0) == 5


async def test_timeout_delay_moves_request_behind_others() -> None:
    runner = GatedRunner()
    policy = QueuePolicy(allow_timeout_override=True, delay_on_timeout=True)
    s = _scheduler(
        runner, BatchingPolicy(max_batch_size=1, dynamic=True), PriorityQueue(default_policy=policy)
    )
    blocker = s.submit(_request("busy"), 1, _key()).future
    await _wait_started(runner)
    late = s.submit(_request("late", timeout_us=1000), 1, _key()).future
    # Wait (on the condition, not a clock) until the timeout has moved it to the delayed queue.
    while not any(p.delayed for p in s._queue.in_order()):  # noqa: ASYNC110
        await asyncio.sleep(0.001)
    on_time = s.submit(_request("on_time"), 1, _key()).future
    runner.gate.set()
    await asyncio.gather(blocker, late, on_time)
    assert runner.batches == [["busy"], ["on_time"], ["late"]]
    await s.drain_and_stop()


async def test_preferred_size_dispatches_without_waiting_for_delay() -> None:
    runner = GatedRunner()
    runner.gate.set()
    # A one-hour delay: only reaching the preferred size can dispatch this batch.
    policy = BatchingPolicy(
        max_batch_size=8, dynamic=True, preferred_sizes=(2,), max_queue_delay_ns=3_600 * 10**9
    )
    s = _scheduler(runner, policy)
    futures = [s.submit(_request(f"p{i}"), 1, _key()).future for i in range(2)]
    assert await asyncio.gather(*futures) == ["p0", "p1"]
    assert runner.batches == [["p0", "p1"]]
    await s.drain_and_stop()


async def test_without_dynamic_batching_each_request_runs_alone() -> None:
    runner = GatedRunner()
    s = _scheduler(runner, BatchingPolicy(max_batch_size=8, dynamic=False))
    blocker = s.submit(_request("a"), 1, _key()).future
    await _wait_started(runner)
    others = [s.submit(_request(f"b{i}"), 1, _key()).future for i in range(3)]
    runner.gate.set()
    await asyncio.gather(blocker, *others)
    assert runner.batches == [["a"], ["b0"], ["b1"], ["b2"]]
    await s.drain_and_stop()


async def test_drain_finishes_queued_work_then_refuses() -> None:
    runner = GatedRunner()
    s = _scheduler(runner, DYNAMIC)
    first = s.submit(_request("a"), 1, _key()).future
    await _wait_started(runner)
    queued = s.submit(_request("b"), 1, _key()).future
    stopping = asyncio.create_task(s.drain_and_stop(grace_s=None))
    await asyncio.sleep(0)
    with pytest.raises(ModelNotReadyError):
        s.submit(_request("c"), 1, _key())
    runner.gate.set()
    assert await first == "a"
    assert await queued == "b"
    await stopping


def test_policy_from_config() -> None:
    config = mc.ModelConfig(max_batch_size=16)
    config.dynamic_batching.preferred_batch_size.extend([8, 4])
    config.dynamic_batching.max_queue_delay_microseconds = 250
    policy = BatchingPolicy.from_config(config)
    assert policy == BatchingPolicy(16, True, (4, 8), 250_000)
    assert not BatchingPolicy.from_config(mc.ModelConfig(max_batch_size=4)).dynamic


async def test_cheap_batches_run_on_the_event_loop_thread() -> None:
    loop_thread = threading.get_ident()
    threads: list[int] = []

    def runner(instance: int, batch: Sequence[PendingRequest]) -> list[Any]:
        threads.append(threading.get_ident())
        return [p.request.id for p in batch]

    s = Scheduler("m:1", BatchingPolicy(max_batch_size=1, dynamic=True), PriorityQueue(), 1,
                  runner, inline_max_ns=10**9)
    s.start()
    for i in range(20):
        assert await s.submit(_request(f"r{i}"), 1, _key()).future == f"r{i}"
    await s.drain_and_stop()
    assert loop_thread not in threads[:16]  # measured on the pool first, then probed
    assert threads[16:] == [loop_thread] * 4
