"""Bounded, priority-ordered admission in front of the backend.

At most ``max_inflight`` requests run in the backend at once; the rest wait in a priority
queue (1 = highest, FIFO within a level). A request is shed with 503 + ``Retry-After``
instead of waiting when the queue is full or when it has waited ``max_wait_s``: latency
stays bounded under overload rather than growing with the backlog.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from mlinfer.core.errors import UnavailableError


@dataclass(order=True)
class _Waiter:
    priority: int
    seq: int
    future: asyncio.Future[None] = field(compare=False)


@dataclass
class AdmissionStats:
    """Observed by the metrics layer."""

    inflight: int = 0
    queued: int = 0
    shed_queue_full: int = 0
    shed_timeout: int = 0


ShedHook = Callable[[str], None]  # called with the reason: "queue_full" | "timeout"
WaitHook = Callable[[float], None]  # seconds a request waited before admission


class AdmissionController:
    def __init__(
        self,
        max_inflight: int,
        max_queue: int,
        max_wait_s: float,
        default_priority: int = 2,
        on_shed: ShedHook | None = None,
        on_wait: WaitHook | None = None,
    ) -> None:
        self.max_inflight = max_inflight
        self.max_queue = max_queue
        self.max_wait_s = max_wait_s
        self.default_priority = default_priority
        self.stats = AdmissionStats()
        self._waiters: list[_Waiter] = []
        self._seq = itertools.count()
        self._on_shed = on_shed or (lambda _: None)
        self._on_wait = on_wait or (lambda _: None)

    @property
    def enabled(self) -> bool:
        return self.max_inflight > 0

    def _priority(self, priority: int) -> int:
        return priority if priority > 0 else self.default_priority

    @asynccontextmanager
    async def admit(self, priority: int) -> AsyncIterator[float]:
        """Hold a backend slot for the body of the ``async with``; yields seconds waited."""
        if not self.enabled:
            yield 0.0
            return
        waited = await self._acquire(self._priority(priority))
        try:
            yield waited
        finally:
            self._release()

    async def _acquire(self, priority: int) -> float:
        if self.stats.inflight < self.max_inflight and not self._waiters:
            self.stats.inflight += 1
            self._on_wait(0.0)
            return 0.0
        if len(self._waiters) >= self.max_queue:
            worst = max(self._waiters, default=None)
            if worst is None or worst.priority <= priority:
                self._shed_full()
                raise self._queue_full_error()
            # A more important request takes the place of the least important waiter.
            self._remove(worst)
            self._shed_full()
            worst.future.set_exception(self._queue_full_error())
        waiter = _Waiter(priority, next(self._seq), asyncio.get_running_loop().create_future())
        heapq.heappush(self._waiters, waiter)
        self.stats.queued = len(self._waiters)
        start = time.monotonic()
        try:
            await asyncio.wait_for(asyncio.shield(waiter.future), self.max_wait_s)
        except TimeoutError:
            if waiter.future.done():  # decided in the same instant as the timeout
                evicted = waiter.future.exception()
                if evicted is not None:
                    raise evicted from None
                return time.monotonic() - start
            self._remove(waiter)
            self.stats.shed_timeout += 1
            self._on_shed("timeout")
            raise UnavailableError(
                f"server overloaded: request waited {self.max_wait_s:g} s for admission; "
                "retry later",
                retry_after_s=max(self.max_wait_s, 1.0),
            ) from None
        except UnavailableError:
            raise  # evicted by a more important request
        except asyncio.CancelledError:
            if not waiter.future.done():
                self._remove(waiter)
            elif waiter.future.exception() is None:
                self._release()  # the slot was handed to us; pass it on
            raise
        waited = time.monotonic() - start
        self._on_wait(waited)
        return waited

    def _shed_full(self) -> None:
        self.stats.shed_queue_full += 1
        self._on_shed("queue_full")

    def _queue_full_error(self) -> UnavailableError:
        return UnavailableError(
            f"server overloaded: admission queue is full ({self.max_queue} requests "
            "waiting); retry later",
            retry_after_s=max(self.max_wait_s, 1.0),
        )

    def _remove(self, waiter: _Waiter) -> None:
        self._waiters.remove(waiter)
        heapq.heapify(self._waiters)
        self.stats.queued = len(self._waiters)

    def _release(self) -> None:
        # Hand the slot straight to the best waiter, so inflight never dips and re-races.
        while self._waiters:
            waiter = heapq.heappop(self._waiters)
            self.stats.queued = len(self._waiters)
            if not waiter.future.done():
                waiter.future.set_result(None)
                return
        self.stats.inflight -= 1
