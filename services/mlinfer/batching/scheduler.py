"""Triton's dynamic batcher: one queue per model version, one worker per model instance.

Requests are packed into a batch while they fit ``max_batch_size`` and have the same
per-request shapes; a batch is dispatched when it reaches a preferred size or the maximum,
or when its oldest request has waited ``max_queue_delay_microseconds``. Without
``dynamic_batching`` each request executes alone. Execution happens on a thread pool so the
event loop keeps serving while models compute.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from tritonclient.grpc import model_config_pb2 as mc

from mlinfer.batching.queue import PendingRequest, PriorityQueue, ShapeKey
from mlinfer.core.errors import MLInferError, ModelNotReadyError, UnavailableError
from mlinfer.core.types import InferRequest

MAX_INSTANCES = 64  # per model version, when instances are added at run time

# Runs on a worker thread: (instance index, batch) -> one result per request, in order.
BatchRunner = Callable[[int, Sequence[PendingRequest]], Sequence[Any]]


@dataclass(frozen=True)
class BatchingPolicy:
    max_batch_size: int  # 0 = the model does not batch
    dynamic: bool
    preferred_sizes: tuple[int, ...] = ()
    max_queue_delay_ns: int = 0

    @classmethod
    def from_config(cls, config: mc.ModelConfig) -> BatchingPolicy:
        dynamic = config.HasField("dynamic_batching") and config.max_batch_size > 0
        batching = config.dynamic_batching
        return cls(
            max_batch_size=int(config.max_batch_size),
            dynamic=dynamic,
            preferred_sizes=tuple(sorted(int(s) for s in batching.preferred_batch_size)),
            max_queue_delay_ns=int(batching.max_queue_delay_microseconds) * 1000,
        )


class InlinePolicy:
    """Run batches on the event loop when they take less time than handing them to a thread.

    A tiny model computes in tens of microseconds, less than the two thread wake-ups that
    a worker thread costs; blocking the loop that briefly is cheaper than the hop. Only for
    single-instance models: several instances exist to compute in parallel.

    What a batch costs can only be read on the loop: on a worker thread every step that
    needs the GIL waits for the event loop to let it go, so a 15 us model reads 95-1,300 us
    there (HTTP at c=8), and a decision taken from those figures would keep it on the
    thread for good. So batches start on the thread pool; once a window of them ran no
    slower than ``PROBE_FACTOR`` times the limit, one batch in ``PROBE_EVERY`` runs on the
    loop as a probe, and a probe within the limit moves the model there. On the loop, a
    window whose fastest run is over the limit (larger batches, a busy machine) sends it
    back to the pool. A model that is slow for real (a GPU model waiting for its device
    reads slow on the loop too) costs one probe per ``PROBE_EVERY`` batches at most.
    """

    WINDOW = 16  # executions per decision
    PROBE_FACTOR = 20  # thread-pool runs up to 20x the limit may be a cheap model waiting
    PROBE_EVERY = 64  # batches on the pool between probes

    def __init__(self, max_ns: int) -> None:
        self.max_ns = max_ns
        self.inline = False
        self._recent: collections.deque[int] = collections.deque(maxlen=self.WINDOW)
        self._since_probe = self.PROBE_EVERY  # the first probe comes once a window is full

    def reset(self, max_ns: int) -> None:
        """A new limit (0 = never inline), measured afresh from the thread pool."""
        self.max_ns, self.inline = max_ns, False
        self._recent.clear()
        self._since_probe = self.PROBE_EVERY

    def choose(self) -> bool:
        """Whether the next batch runs on the loop (inline, or as a probe)."""
        if self.max_ns <= 0:
            return False
        if self.inline:
            return True
        self._since_probe += 1
        due = len(self._recent) == self.WINDOW and self._since_probe >= self.PROBE_EVERY
        if due and min(self._recent) <= self.max_ns * self.PROBE_FACTOR:
            self._since_probe = 0
            return True
        return False

    def observe(self, elapsed_ns: int, on_loop: bool) -> None:
        """One execution's time; ``on_loop``: it ran on the event loop (inline or a probe).
        Called from whichever thread ran it; a lost update only delays a decision."""
        if on_loop and not self.inline:  # a probe: the loop's reading decides
            if elapsed_ns <= self.max_ns:
                self.inline = True
                self._recent.clear()
            self._recent.append(elapsed_ns)
            return
        self._recent.append(elapsed_ns)
        if self.inline and len(self._recent) == self.WINDOW and min(self._recent) > self.max_ns:
            self.inline = False
            self._recent.clear()


class Scheduler:
    def __init__(
        self,
        model_label: str,
        policy: BatchingPolicy,
        queue: PriorityQueue,
        instances: int,
        run_batch: BatchRunner,
        on_dispatch: Callable[[PendingRequest, int], None] | None = None,
        inline_max_ns: int = 0,
    ) -> None:
        self._label = model_label
        self._policy = policy
        self._queue = queue
        self._run_batch = run_batch
        self._on_dispatch = on_dispatch  # (request, ns it waited in the queue)
        self._instances = max(instances, 1)
        self._inline_max_ns = inline_max_ns
        self._inline = InlinePolicy(inline_max_ns if self._instances == 1 else 0)
        # Threads start lazily, one per busy worker: the bound only caps live scaling.
        self._pool = ThreadPoolExecutor(
            max(self._instances, MAX_INSTANCES), thread_name_prefix=f"mlinfer-{model_label}"
        )
        self._arrival = asyncio.Event()
        self._workers: list[asyncio.Task[None]] = []
        self._retiring: set[int] = set()
        self._accepting = False
        self._executing = 0
        self._batch_ids = itertools.count(1)
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def pending(self) -> int:
        """Requests queued or executing."""
        return len(self._queue) + self._executing

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._accepting = True
        self._workers = [
            asyncio.create_task(self._worker(i), name=f"{self._label}-instance-{i}")
            for i in range(self._instances)
        ]

    @property
    def instances(self) -> int:
        return len(self._workers)

    def add_instance(self) -> None:
        """Start a worker for instance index ``instances``; its runner must be ready for it."""
        if len(self._workers) >= MAX_INSTANCES:
            raise ValueError(f"at most {MAX_INSTANCES} instances per model")
        index = len(self._workers)
        self._inline.reset(0)  # several instances exist to compute in parallel
        self._workers.append(
            asyncio.create_task(self._worker(index), name=f"{self._label}-instance-{index}")
        )

    async def remove_instance(self) -> None:
        """Retire the last worker: it finishes the batch it runs and takes no other."""
        if len(self._workers) <= 1:
            raise ValueError("a model keeps at least one instance")
        index = len(self._workers) - 1
        self._retiring.add(index)
        self._arrival.set()  # wake it if it waits for work; the others just look again
        await self._workers[index]
        self._workers.pop()
        self._retiring.discard(index)
        if len(self._workers) == 1:
            self._inline.reset(self._inline_max_ns)

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn`` on the event loop: now when already on it (inline), else handed over."""
        if threading.get_ident() == self._loop_thread:
            fn(*args)
        else:
            self._loop.call_soon_threadsafe(fn, *args)

    def submit(self, request: InferRequest, batch_size: int, shape_key: ShapeKey) -> PendingRequest:
        """Queue a request; await ``.future`` for its result."""
        if not self._accepting:
            raise ModelNotReadyError(f"Model '{self._label}' is not ready: it is unloading")
        loop = asyncio.get_running_loop()
        level = self._queue.level_for(request.priority)
        qpolicy = self._queue.policy(level)
        timeout_us = qpolicy.timeout_us(request.timeout_us)
        pending = PendingRequest(request, batch_size, shape_key, loop.create_future(), level)
        if timeout_us:
            pending.deadline_ns = pending.enqueue_ns + timeout_us * 1000
        self._queue.push(pending)
        self._idle.clear()
        if pending.deadline_ns is not None:
            pending.timer = loop.call_later(
                timeout_us / 1e6, self._expire, pending, qpolicy.delay_on_timeout
            )
        self._arrival.set()
        return pending

    def _expire(self, pending: PendingRequest, delay: bool) -> None:
        pending.timer = None
        if pending.future.done() or pending.delayed:
            return
        if delay:
            self._queue.delay(pending)
            return
        self._queue.remove(pending)
        pending.future.set_exception(UnavailableError("Request timeout expired"))
        self._note_idle()

    async def _worker(self, instance: int) -> None:
        while True:
            batch = await self._next_batch(instance)
            if batch is None:
                return
            await self._execute(instance, batch)

    async def _next_batch(self, instance: int) -> list[PendingRequest] | None:
        while True:
            if instance in self._retiring:
                return None  # a batch it was forming stays queued for the others
            self._drop_cancelled()
            if not len(self._queue):
                if not self._accepting:
                    return None
                self._arrival.clear()
                await self._arrival.wait()
                continue
            batch, total, closed = self._collect()
            now = time.monotonic_ns()
            waited = now - batch[0].enqueue_ns
            policy = self._policy
            full = total >= policy.max_batch_size or total in policy.preferred_sizes
            if not policy.dynamic or full or closed or waited >= policy.max_queue_delay_ns:
                for pending in batch:
                    self._queue.remove(pending)
                    if pending.timer is not None:
                        pending.timer.cancel()
                return batch
            # Until the next arrival or the oldest request's delay, whichever comes first:
            # a timer that sets the arrival event costs a handle, where wait_for costs a
            # task, a timeout handle and a cancellation on every request that arrives.
            self._arrival.clear()
            timer = self._loop.call_later(
                (policy.max_queue_delay_ns - waited) / 1e9, self._arrival.set
            )
            try:
                await self._arrival.wait()
            finally:
                timer.cancel()

    def _collect(self) -> tuple[list[PendingRequest], int, bool]:
        """Requests that can run together from the head; ``closed`` = nothing more fits."""
        batch: list[PendingRequest] = []
        total = 0
        for pending in self._queue.in_order():
            if not batch:
                batch.append(pending)
                total = pending.batch_size
                if not self._policy.dynamic:
                    return batch, total, True
                continue
            if (
                pending.shape_key != batch[0].shape_key
                or total + pending.batch_size > self._policy.max_batch_size
            ):
                return batch, total, True
            batch.append(pending)
            total += pending.batch_size
        return batch, total, False

    def _drop_cancelled(self) -> None:
        dropped = [p for p in self._queue.in_order() if p.future.done()]
        for pending in dropped:
            self._queue.remove(pending)
            if pending.timer is not None:
                pending.timer.cancel()
        if dropped:
            self._note_idle()  # else a stop waits for a request nobody wants any more

    async def _execute(self, instance: int, batch: list[PendingRequest]) -> None:
        dispatch_ns = time.monotonic_ns()
        rows, batch_id = sum(p.batch_size for p in batch), next(self._batch_ids)
        for pending in batch:
            pending.dispatch_ns = dispatch_ns
            pending.batch_id, pending.batch_requests = batch_id, len(batch)
            pending.batch_rows = rows
            if self._on_dispatch is not None:
                self._on_dispatch(pending, dispatch_ns - pending.enqueue_ns)
        self._executing += len(batch)
        try:
            if self._inline.choose():
                results = self._timed_run(instance, batch, True)
            else:
                loop = asyncio.get_running_loop()
                results = await loop.run_in_executor(
                    self._pool, self._timed_run, instance, batch, False
                )
        except MLInferError as exc:
            results = [exc] * len(batch)
        except Exception as exc:  # a model failure must fail its requests, not the worker
            err = MLInferError(f"inference failed for model '{self._label}': {exc}")
            results = [err] * len(batch)
        finally:
            self._executing -= len(batch)
        done_ns = time.monotonic_ns()
        for pending, result in zip(batch, results, strict=True):
            pending.done_ns = done_ns
            if pending.future.done():
                continue
            if isinstance(result, BaseException):
                pending.future.set_exception(result)
            else:
                pending.future.set_result(result)
        self._note_idle()

    def _timed_run(
        self, instance: int, batch: Sequence[PendingRequest], on_loop: bool
    ) -> Sequence[Any]:
        start = time.perf_counter_ns()
        try:
            results = self._run_batch(instance, batch)
        finally:
            self._inline.observe(time.perf_counter_ns() - start, on_loop)
        if len(results) != len(batch):
            # Pairing results with requests would fail outside any handler and kill the
            # worker, leaving the batch's requests waiting forever.
            raise MLInferError(
                f"model runner for '{self._label}' returned {len(results)} results for "
                f"{len(batch)} requests"
            )
        return results

    def _note_idle(self) -> None:
        if not len(self._queue) and not self._executing:
            self._idle.set()

    async def drain_and_stop(self, grace_s: float | None = None) -> None:
        """Stop accepting, let queued and running requests finish, then stop the workers."""
        self._accepting = False
        self._arrival.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), grace_s)
        for pending in list(self._queue.in_order()):
            self._queue.remove(pending)
            if not pending.future.done():
                pending.future.set_exception(
                    ModelNotReadyError(f"Model '{self._label}' was unloaded before execution")
                )
        self._arrival.set()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._pool.shutdown(wait=True)
