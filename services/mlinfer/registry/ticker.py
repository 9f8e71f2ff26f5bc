"""A background task that calls ``tick`` every interval, or sooner when woken; a failing
tick is logged once per outage and tried again, so the loop outlives a database outage."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("mlinfer.registry")


class Ticker:
    def __init__(self, name: str, tick: Callable[[], Awaitable[object]], interval_s: float) -> None:
        self._name = name
        self._tick = tick
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=self._name)

    def wake(self) -> None:
        """Tick now instead of at the end of the interval."""
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        failing = False
        while True:
            try:
                await self._tick()
                failing = False
            except Exception:  # the loop outlives a bad tick (database down, ...)
                if not failing:  # once per outage, not once per tick
                    log.exception("%s failing; retrying every tick", self._name)
                failing = True
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval_s)
            self._wake.clear()
