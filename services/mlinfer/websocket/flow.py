"""Flow control of one stream: frames wait here until one of its in-flight slots is free.

``queue`` keeps every frame and, when ``max_waiting`` frames wait, makes the reader wait
(TCP back-pressure reaches the client). ``latest`` keeps only the newest waiting frame and
counts the older ones as dropped: a camera wants the current picture, not a backlog.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Generic, TypeVar

from mlinfer.listeners.websocket_settings import FlowPolicy

T = TypeVar("T")


@dataclass
class FlowCounters:
    received: int = 0
    dropped: int = 0


class FrameFlow(Generic[T]):
    def __init__(self, policy: FlowPolicy, max_waiting: int) -> None:
        self.policy = policy
        # latest: one waiting frame at most, the newest
        self._bound = 1 if policy == "latest" else max_waiting
        self._waiting: deque[T] = deque()
        self._changed = asyncio.Condition()
        self.counters = FlowCounters()

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    async def put(self, frame: T) -> None:
        """Add a received frame; ``queue`` waits for room, ``latest`` drops the oldest."""
        async with self._changed:
            if self.policy == "queue":
                await self._changed.wait_for(lambda: len(self._waiting) < self._bound)
            else:
                while len(self._waiting) >= self._bound:
                    self._waiting.popleft()
                    self.counters.dropped += 1
            self.counters.received += 1
            self._waiting.append(frame)
            self._changed.notify_all()

    async def take(self) -> T:
        """The oldest waiting frame (frames are taken in the order they arrived)."""
        async with self._changed:
            await self._changed.wait_for(lambda: bool(self._waiting))
            frame = self._waiting.popleft()
            self._changed.notify_all()
            return frame
