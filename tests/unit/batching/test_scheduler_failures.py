"""The batcher when things go wrong or arrive unusually: failing models, stops, cancels, threads.

Each test waits on conditions (a runner that started, a queue that emptied), never on time;
where a one-hour queue delay is configured, only the behaviour under test can finish it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from tritonclient.grpc import model_config_pb2 as mc

from mlinfer.batching.queue import PendingRequest, PriorityQueue, QueuePolicy
from mlinfer.batching.scheduler import BatchingPolicy, InlinePolicy, Scheduler
from mlinfer.core.errors import InvalidInputError, MLInferError, ModelNotReadyError
from mlinfer.core.types import InferRequest, Tensor

HOUR_NS = 3_600 * 10**9


class Runner:
    """Records batches; blocks while ``gate`` is closed; raises ``fail`` for marked requests."""

    def __init__(self, open_gate: bool = True) -> None:
        self.batches: list[list[str]] = []
        self.instances: list[int] = []
        self.threads: list[int] = []
        self.gate = threading.Event()
        if open_gate:
            self.gate.set()
        self.started = threading.Semaphore(0)
        self.fail: dict[str, BaseException] = {}

    def __call__(self, instance: int, batch: Sequence[PendingRequest]) -> list[Any]:
        self.started.release()
        self.gate.wait()
        ids = [p.request.id for p in batch]
        self.batches.append(ids)
        self.instances.append(instance)
        self.threads.append(threading.get_ident())
        for rid in ids:
            if rid in self.fail:
                raise self.fail[rid]
        return [f"out-{rid}" for rid in ids]

    async def wait_started(self) -> None:
        await asyncio.to_thread(self.started.acquire)


def _request(rid: str, timeout_us: int = 0) -> InferRequest:
    data = np.zeros((1, 4), np.float32)
    return InferRequest("m", [Tensor("x", "FP32", data.shape, data)], id=rid, timeout_us=timeout_us)


KEY: Any = (("x", "FP32", (4,)),)


def _scheduler(
    runner: Runner,
    policy: BatchingPolicy,
    queue: PriorityQueue | None = None,
    instances: int = 1,
    **kwargs: Any,
) -> Scheduler:
    queue = queue if queue is not None else PriorityQueue()
    s = Scheduler("m:1", policy, queue, instances, runner, **kwargs)
    s.start()
    return s


async def _until(condition: Any) -> None:
    """Let the event loop run until ``condition()`` holds (the test timeout bounds it)."""
    while not condition():  # noqa: ASYNC110 - the condition is the scheduler's own state
        await asyncio.sleep(0)


async def test_a_raising_model_fails_its_batch_and_the_worker_keeps_serving() -> None:
    runner = Runner(open_gate=False)
    runner.fail["bad"] = RuntimeError("CUDA out of memory")
    s = _scheduler(runner, BatchingPolicy(max_batch_size=8, dynamic=True))
    blocker = s.submit(_request("busy"), 1, KEY).future
    await runner.wait_started()
    batch = [s.submit(_request(rid), 1, KEY).future for rid in ("ok", "bad")]
    runner.gate.set()
    assert await blocker == "out-busy"
    results = await asyncio.gather(*batch, return_exceptions=True)
    assert runner.batches == [["busy"], ["ok", "bad"]]
    for error in results:  # the whole batch failed together, with the model named
        assert type(error) is MLInferError
        assert str(error) == "inference failed for model 'm:1': CUDA out of memory"
    assert await s.submit(_request("after"), 1, KEY).future == "out-after"
    assert s.pending == 0
    await s.drain_and_stop()


async def test_a_model_error_reaches_the_client_as_it_was_raised() -> None:
    runner = Runner()
    refusal = InvalidInputError("token id 70000 out of range")
    runner.fail["bad"] = refusal
    s = _scheduler(runner, BatchingPolicy(max_batch_size=8, dynamic=True))
    with pytest.raises(InvalidInputError) as info:
        await s.submit(_request("bad"), 1, KEY).future
    assert info.value is refusal
    await s.drain_and_stop()


async def test_a_runner_returning_errors_fails_only_those_requests() -> None:
    def runner(instance: int, batch: Sequence[PendingRequest]) -> list[Any]:
        return [InvalidInputError("bad row") if p.request.id == "b" else "ok" for p in batch]

    policy = BatchingPolicy(max_batch_size=4, dynamic=False)
    s = Scheduler("m:1", policy, PriorityQueue(), 1, runner)
    s.start()
    assert await s.submit(_request("a"), 1, KEY).future == "ok"
    with pytest.raises(InvalidInputError, match="bad row"):
        await s.submit(_request("b"), 1, KEY).future
    await s.drain_and_stop()


async def test_stop_whose_grace_runs_out_fails_the_queued_and_finishes_the_running() -> None:
    runner = Runner(open_gate=False)
    s = _scheduler(runner, BatchingPolicy(max_batch_size=1, dynamic=True))
    running = s.submit(_request("running"), 1, KEY).future
    await runner.wait_started()
    queued = [s.submit(_request(f"q{i}"), 1, KEY) for i in range(2)]
    stopping = asyncio.create_task(s.drain_and_stop(grace_s=0.001))
    # The grace period ends while "running" is still blocked: the queued ones are failed.
    await asyncio.wait([p.future for p in queued])
    unloaded = r"^Model 'm:1' was unloaded before execution$"
    for pending in queued:
        with pytest.raises(ModelNotReadyError, match=unloaded):
            pending.future.result()
    assert len(s._queue) == 0
    assert not stopping.done()  # still waiting for the running batch: it is not abandoned
    runner.gate.set()
    await stopping  # does not raise although the grace period ran out
    assert await running == "out-running"
    assert runner.batches == [["running"]]
    with pytest.raises(ModelNotReadyError, match=r"^Model 'm:1' is not ready: it is unloading$"):
        s.submit(_request("late"), 1, KEY)


async def test_queue_delay_is_waited_for_more_requests() -> None:
    runner = Runner()
    s = _scheduler(
        runner, BatchingPolicy(max_batch_size=2, dynamic=True, max_queue_delay_ns=HOUR_NS)
    )
    first = s.submit(_request("a"), 1, KEY).future
    # The worker has looked at the queue and gone back to waiting (it clears the signal).
    await _until(lambda: not s._arrival.is_set())
    assert runner.batches == []
    second = s.submit(_request("b"), 1, KEY).future
    assert await asyncio.gather(first, second) == ["out-a", "out-b"]
    assert runner.batches == [["a", "b"]]  # the full batch went at once, not after an hour
    await s.drain_and_stop()


async def test_a_full_batch_does_not_wait_out_the_delay() -> None:
    runner = Runner()
    s = _scheduler(
        runner, BatchingPolicy(max_batch_size=3, dynamic=True, max_queue_delay_ns=HOUR_NS)
    )
    futures = [s.submit(_request(f"r{i}"), 1, KEY).future for i in range(3)]
    assert await asyncio.gather(*futures) == ["out-r0", "out-r1", "out-r2"]
    assert runner.batches == [["r0", "r1", "r2"]]
    await s.drain_and_stop()


async def test_a_request_that_does_not_fit_closes_the_batch_without_waiting() -> None:
    runner = Runner()
    s = _scheduler(
        runner, BatchingPolicy(max_batch_size=4, dynamic=True, max_queue_delay_ns=HOUR_NS)
    )
    futures = [s.submit(_request("three"), 3, KEY).future, s.submit(_request("two"), 2, KEY).future]
    await futures[0]
    assert runner.batches == [["three"]]
    futures[1].cancel()  # "two" alone would wait the delay; nobody needs it any more
    await s.drain_and_stop()


async def test_the_delay_elapsed_dispatches_a_partial_batch() -> None:
    runner = Runner()
    s = _scheduler(runner, BatchingPolicy(max_batch_size=8, dynamic=True, max_queue_delay_ns=1000))
    assert await s.submit(_request("alone"), 1, KEY).future == "out-alone"
    assert runner.batches == [["alone"]]
    await s.drain_and_stop()


async def test_a_request_cancelled_while_queued_never_runs() -> None:
    runner = Runner(open_gate=False)
    policy = QueuePolicy(default_timeout_us=3_600 * 10**6)
    s = _scheduler(
        runner, BatchingPolicy(max_batch_size=8, dynamic=True), PriorityQueue(default_policy=policy)
    )
    blocker = s.submit(_request("busy"), 1, KEY).future
    await runner.wait_started()
    cancelled = s.submit(_request("gone"), 1, KEY)
    kept = s.submit(_request("kept"), 1, KEY)
    cancelled.future.cancel()
    runner.gate.set()
    assert await blocker == "out-busy"
    assert await kept.future == "out-kept"
    assert runner.batches == [["busy"], ["kept"]]
    # Its queue timeout timer went with it, and so did the dispatched request's.
    assert cancelled.timer is not None and cancelled.timer.cancelled()
    assert kept.timer is not None and kept.timer.cancelled()
    await s.drain_and_stop()


async def test_queue_timeout_sets_a_deadline_only_when_there_is_one() -> None:
    runner = Runner(open_gate=False)
    policy = QueuePolicy(default_timeout_us=3_600 * 10**6)
    s = _scheduler(
        runner, BatchingPolicy(max_batch_size=1, dynamic=True), PriorityQueue(default_policy=policy)
    )
    timed = s.submit(_request("t"), 1, KEY)
    assert timed.deadline_ns == timed.enqueue_ns + 3_600 * 10**9
    assert timed.level == 1 and timed.batch_size == 1 and timed.shape_key == KEY
    untimed_scheduler = _scheduler(Runner(), BatchingPolicy(max_batch_size=1, dynamic=True))
    untimed = untimed_scheduler.submit(_request("u"), 1, KEY)
    assert untimed.deadline_ns is None and untimed.timer is None
    await untimed.future
    await untimed_scheduler.drain_and_stop()
    runner.gate.set()
    await timed.future
    await s.drain_and_stop()


async def test_work_handed_in_from_another_thread_runs_on_the_loop() -> None:
    s = _scheduler(Runner(), BatchingPolicy(max_batch_size=1, dynamic=True))
    loop_thread = threading.get_ident()
    ran_on: list[tuple[str, int]] = []

    def note(tag: str) -> None:
        ran_on.append((tag, threading.get_ident()))

    s.call_soon(note, "inline")
    assert ran_on == [("inline", loop_thread)]  # on the loop already: ran before returning
    worker = threading.Thread(target=s.call_soon, args=(note, "handed"))
    worker.start()
    await asyncio.to_thread(worker.join)
    await _until(lambda: len(ran_on) == 2)
    assert ran_on[1] == ("handed", loop_thread)
    await s.drain_and_stop()


async def test_pending_counts_queued_and_executing_and_dispatch_is_reported() -> None:
    runner = Runner(open_gate=False)
    waits: list[tuple[str, int]] = []
    s = _scheduler(
        runner,
        BatchingPolicy(max_batch_size=1, dynamic=True),
        on_dispatch=lambda p, waited: waits.append((p.request.id, waited)),
    )
    assert s.pending == 0
    first = s.submit(_request("a"), 1, KEY)
    await runner.wait_started()
    second = s.submit(_request("b"), 1, KEY)
    assert s.pending == 2  # one executing, one queued
    runner.gate.set()
    await asyncio.gather(first.future, second.future)
    assert s.pending == 0
    assert [rid for rid, _ in waits] == ["a", "b"]
    assert all(waited >= 0 for _, waited in waits)
    assert waits[1][1] == second.dispatch_ns - second.enqueue_ns
    assert second.enqueue_ns <= second.dispatch_ns <= second.done_ns
    await s.drain_and_stop()


async def test_each_instance_runs_its_own_batch_on_a_thread() -> None:
    runner = Runner(open_gate=False)
    s = _scheduler(
        runner, BatchingPolicy(max_batch_size=1, dynamic=True), instances=2, inline_max_ns=10**9
    )
    futures = [s.submit(_request(f"r{i}"), 1, KEY).future for i in range(2)]
    await runner.wait_started()
    await runner.wait_started()  # both run at once: two instances
    runner.gate.set()
    await asyncio.gather(*futures)
    assert sorted(runner.instances) == [0, 1]
    for i in range(20):  # several instances never run inline, however fast the model
        await s.submit(_request(f"more{i}"), 1, KEY).future
    assert threading.get_ident() not in runner.threads
    await s.drain_and_stop()


async def test_zero_instances_means_one() -> None:
    runner = Runner()
    s = _scheduler(runner, BatchingPolicy(max_batch_size=1, dynamic=True), instances=0)
    assert await s.submit(_request("a"), 1, KEY).future == "out-a"
    assert runner.instances == [0]
    await s.drain_and_stop()


async def test_stop_with_nothing_queued_returns_and_stops_the_workers() -> None:
    s = _scheduler(Runner(), BatchingPolicy(max_batch_size=4, dynamic=True))
    await s.drain_and_stop(grace_s=None)
    assert all(w.done() for w in s._workers)


def test_dynamic_batching_needs_a_batching_model() -> None:
    config = mc.ModelConfig(max_batch_size=0)
    config.dynamic_batching.max_queue_delay_microseconds = 100
    policy = BatchingPolicy.from_config(config)
    assert not policy.dynamic
    assert policy.max_queue_delay_ns == 100_000
    batching = mc.ModelConfig(max_batch_size=1)
    batching.dynamic_batching.SetInParent()  # present, every field at its default
    assert BatchingPolicy.from_config(batching) == BatchingPolicy(1, True, (), 0)


def _run(policy: InlinePolicy, ns_on_pool: int, ns_on_loop: int) -> bool:
    """One batch as the scheduler runs it: where the policy says, taking that place's time."""
    on_loop = policy.choose()
    policy.observe(ns_on_loop if on_loop else ns_on_pool, on_loop)
    return on_loop


def test_a_cheap_model_that_reads_slow_on_the_pool_is_probed_and_moves_to_the_loop() -> None:
    policy = InlinePolicy(max_ns=100_000)
    # 300 us on the pool (waiting for the GIL), 15 us when the loop runs it
    places = [_run(policy, 300_000, 15_000) for _ in range(20)]
    assert places[:16] == [False] * 16  # a window measured on the pool first
    assert places[16:] == [True] * 4  # the probe read 15 us: on the loop from then on
    assert policy.inline
    places = [_run(policy, 300_000, 5_000_000) for _ in range(16)]  # the model turned slow
    assert all(places) and not policy.inline  # a whole window over the limit: back
    assert _run(policy, 300_000, 5_000_000) is False


def test_a_model_slow_on_the_loop_too_costs_one_probe_in_64_batches() -> None:
    policy = InlinePolicy(max_ns=100_000)
    places = [_run(policy, 300_000, 1_000_000) for _ in range(16 + 1 + 2 * 64)]
    assert places.count(True) == 3  # after the first window, then every 64th batch
    assert not policy.inline
    heavy = InlinePolicy(max_ns=100_000)  # 20x the limit and more on the pool: never probed
    assert not any(_run(heavy, 2_000_001, 10) for _ in range(200))
    edge = InlinePolicy(max_ns=500)
    assert [_run(edge, 500, 500) for _ in range(17)][-1]  # at the limit still counts as cheap
    assert not any(_run(InlinePolicy(max_ns=0), 1, 1) for _ in range(100))  # 0 = never


@pytest.mark.parametrize("inline", [False, True])
async def test_a_runner_returning_the_wrong_number_of_results_fails_that_batch(
    inline: bool,
) -> None:
    calls: list[int] = []

    def runner(instance: int, batch: Sequence[PendingRequest]) -> list[Any]:
        calls.append(len(batch))
        return [] if batch[0].request.id == "short" else ["ok"] * len(batch)

    s = Scheduler(
        "m:1",
        BatchingPolicy(max_batch_size=1, dynamic=True),
        PriorityQueue(),
        1,
        runner,
        inline_max_ns=10**12 if inline else 0,
    )
    s.start()
    for i in range(16 if inline else 0):  # past the warm-up, batches run on the loop
        await s.submit(_request(f"warm{i}"), 1, KEY).future
    wrong = r"^model runner for 'm:1' returned 0 results for 1 requests$"
    with pytest.raises(MLInferError, match=wrong):
        await s.submit(_request("short"), 1, KEY).future
    assert await s.submit(_request("after"), 1, KEY).future == "ok"  # the worker lives on
    await s.drain_and_stop()


async def test_stop_without_grace_finishes_everything_queued() -> None:
    runner = Runner(open_gate=False)
    s = _scheduler(runner, BatchingPolicy(max_batch_size=1, dynamic=True))
    futures = [s.submit(_request(f"r{i}"), 1, KEY).future for i in range(4)]
    await runner.wait_started()
    stopping = asyncio.create_task(s.drain_and_stop(grace_s=None))
    await asyncio.sleep(0)
    runner.gate.set()
    # Between two batches nothing executes while requests are still queued: not idle yet.
    assert await asyncio.gather(*futures) == [f"out-r{i}" for i in range(4)]
    await stopping


async def test_a_request_cancelled_while_its_batch_runs_does_not_hold_up_the_others() -> None:
    started = threading.Semaphore(0)
    release = [threading.Event(), threading.Event()]
    batches: list[list[str]] = []

    def runner(instance: int, batch: Sequence[PendingRequest]) -> list[Any]:
        call = len(batches)
        batches.append([p.request.id for p in batch])
        started.release()
        release[call].wait()  # each batch waits for its own go
        return [f"out-{p.request.id}" for p in batch]

    s = Scheduler("m:1", BatchingPolicy(max_batch_size=8, dynamic=True), PriorityQueue(), 1, runner)
    s.start()
    blocker = s.submit(_request("busy"), 1, KEY).future
    await asyncio.to_thread(started.acquire)
    first, second = (s.submit(_request(rid), 1, KEY).future for rid in ("first", "second"))
    release[0].set()
    await blocker
    await asyncio.to_thread(started.acquire)  # "first" and "second" run together now
    first.cancel()
    release[1].set()
    assert await second == "out-second"
    assert batches == [["busy"], ["first", "second"]]
    await s.drain_and_stop()


async def test_executing_counts_every_instance() -> None:
    runner = Runner(open_gate=False)
    s = _scheduler(runner, BatchingPolicy(max_batch_size=1, dynamic=True), instances=2)
    futures = [s.submit(_request(f"r{i}"), 1, KEY).future for i in range(2)]
    await runner.wait_started()
    await runner.wait_started()
    assert s.pending == 2  # both instances busy, nothing queued
    runner.gate.set()
    await asyncio.gather(*futures)
    assert s.pending == 0
    await s.drain_and_stop(grace_s=None)


async def test_batches_run_on_the_models_own_named_threads_which_stop_with_it() -> None:
    names: list[str] = []

    def runner(instance: int, batch: Sequence[PendingRequest]) -> list[Any]:
        names.append(threading.current_thread().name)
        return ["ok"] * len(batch)

    s = Scheduler("m:1", BatchingPolicy(max_batch_size=1, dynamic=True), PriorityQueue(), 1, runner)
    s.start()
    assert [w.get_name() for w in s._workers] == ["m:1-instance-0"]
    await s.submit(_request("a"), 1, KEY).future
    assert names[0].startswith("mlinfer-m:1")
    await s.drain_and_stop()
    assert not [t for t in threading.enumerate() if t.name.startswith("mlinfer-m:1")]


async def test_inline_batches_are_told_their_instance() -> None:
    runner = Runner()
    s = _scheduler(runner, BatchingPolicy(max_batch_size=1, dynamic=True), inline_max_ns=10**12)
    for i in range(20):
        await s.submit(_request(f"r{i}"), 1, KEY).future
    assert threading.get_ident() in runner.threads  # some ran on the loop
    assert set(runner.instances) == {0}
    await s.drain_and_stop()


async def test_a_queue_delay_that_runs_out_dispatches_what_is_there() -> None:
    runner = Runner()
    delay_ns = 20_000_000  # long enough that the batcher really waits, then times out
    s = _scheduler(
        runner, BatchingPolicy(max_batch_size=8, dynamic=True, max_queue_delay_ns=delay_ns)
    )
    pending = s.submit(_request("alone"), 1, KEY)
    assert await pending.future == "out-alone"
    assert pending.dispatch_ns - pending.enqueue_ns >= delay_ns
    await s.drain_and_stop()


async def test_a_timer_firing_for_a_cancelled_request_changes_nothing() -> None:
    loop = asyncio.get_running_loop()
    errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    try:
        runner = Runner(open_gate=False)
        policy = QueuePolicy(default_timeout_us=1000)
        s = _scheduler(
            runner,
            BatchingPolicy(max_batch_size=1, dynamic=True),
            PriorityQueue(default_policy=policy),
        )
        blocker = s.submit(_request("busy"), 1, KEY).future
        await runner.wait_started()
        gone = s.submit(_request("gone"), 1, KEY)
        gone.future.cancel()
        await _until(lambda: gone.timer is None)  # its timeout fired while it was queued
        assert len(s._queue) == 1  # still queued: the worker drops it, the timer does not
        runner.gate.set()
        await blocker
        await s.drain_and_stop()
        assert errors == []
    finally:
        loop.set_exception_handler(None)


async def test_queue_timeout_message() -> None:
    runner = Runner(open_gate=False)
    s = _scheduler(
        runner,
        BatchingPolicy(max_batch_size=1, dynamic=True),
        PriorityQueue(default_policy=QueuePolicy(default_timeout_us=1000)),
    )
    blocker = s.submit(_request("busy"), 1, KEY)
    await runner.wait_started()
    with pytest.raises(MLInferError, match=r"^Request timeout expired$"):
        await s.submit(_request("late"), 1, KEY).future
    runner.gate.set()
    await blocker.future
    await s.drain_and_stop()


async def test_a_scheduler_refuses_work_before_start_and_stops_unstarted() -> None:
    s = Scheduler(
        "m:1", BatchingPolicy(max_batch_size=1, dynamic=True), PriorityQueue(), 1, Runner()
    )
    with pytest.raises(ModelNotReadyError):
        s.submit(_request("early"), 1, KEY)
    await s.drain_and_stop()
