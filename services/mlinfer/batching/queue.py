"""Priority levels and queue policies (``max_queue_size``, timeouts, REJECT/DELAY)."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from tritonclient.grpc import model_config_pb2 as mc

from mlinfer.core.errors import UnavailableError
from mlinfer.core.types import InferRequest

ShapeKey = tuple[tuple[str, str, tuple[int, ...]], ...]


@dataclass(eq=False)
class PendingRequest:
    """A request waiting in (or taken from) the queue."""

    request: InferRequest
    batch_size: int
    shape_key: ShapeKey  # requests batch together only when these match
    future: asyncio.Future[Any]
    level: int
    enqueue_ns: int = field(default_factory=time.monotonic_ns)
    deadline_ns: int | None = None
    dispatch_ns: int = 0  # when its batch started (monotonic), for queue/compute spans
    done_ns: int = 0  # when its batch finished
    batch_id: int = 0  # which execution of its model it ran in (set at dispatch)
    batch_requests: int = 0  # requests in that batch
    batch_rows: int = 0  # rows of that batch, all its requests together
    delayed: bool = False
    timer: asyncio.TimerHandle | None = None


@dataclass(frozen=True)
class QueuePolicy:
    max_queue_size: int = 0  # 0 = unbounded
    default_timeout_us: int = 0  # 0 = none
    allow_timeout_override: bool = False
    delay_on_timeout: bool = False  # timeout_action DELAY instead of REJECT

    @classmethod
    def from_proto(cls, policy: mc.ModelQueuePolicy) -> QueuePolicy:
        return cls(
            max_queue_size=int(policy.max_queue_size),
            default_timeout_us=int(policy.default_timeout_microseconds),
            allow_timeout_override=bool(policy.allow_timeout_override),
            delay_on_timeout=policy.timeout_action == mc.ModelQueuePolicy.DELAY,
        )

    def timeout_us(self, requested_us: int) -> int:
        if requested_us and self.allow_timeout_override:
            return requested_us
        return self.default_timeout_us


class PriorityQueue:
    """Levels 1..N (1 served first), then requests delayed by a DELAY timeout."""

    def __init__(
        self,
        levels: int = 0,
        default_level: int = 0,
        default_policy: QueuePolicy | None = None,
        level_policies: dict[int, QueuePolicy] | None = None,
    ) -> None:
        self.levels = max(levels, 1)
        self.default_level = default_level if 1 <= default_level <= self.levels else 1
        default_policy = default_policy or QueuePolicy()
        level_policies = level_policies or {}
        self._policies = {
            lvl: level_policies.get(lvl, default_policy) for lvl in range(1, self.levels + 1)
        }
        self._queues: dict[int, deque[PendingRequest]] = {
            lvl: deque() for lvl in range(1, self.levels + 1)
        }
        self._delayed: deque[PendingRequest] = deque()

    @classmethod
    def from_config(cls, batching: mc.ModelDynamicBatching | None) -> PriorityQueue:
        if batching is None:
            return cls()
        return cls(
            levels=int(batching.priority_levels),
            default_level=int(batching.default_priority_level),
            default_policy=QueuePolicy.from_proto(batching.default_queue_policy),
            level_policies={
                int(k): QueuePolicy.from_proto(v) for k, v in batching.priority_queue_policy.items()
            },
        )

    def level_for(self, priority: int) -> int:
        # Triton: 0 or a value past the configured levels means the default level.
        return priority if 1 <= priority <= self.levels else self.default_level

    def policy(self, level: int) -> QueuePolicy:
        return self._policies[level]

    def push(self, pending: PendingRequest) -> None:
        policy = self._policies[pending.level]
        queue = self._queues[pending.level]
        if policy.max_queue_size and len(queue) >= policy.max_queue_size:
            raise UnavailableError("Exceeds maximum queue size", retry_after_s=1.0)
        queue.append(pending)

    def delay(self, pending: PendingRequest) -> None:
        """Move a timed-out request behind everything else (timeout_action: DELAY)."""
        self._queues[pending.level].remove(pending)
        pending.delayed = True
        self._delayed.append(pending)

    def remove(self, pending: PendingRequest) -> None:
        queue = self._delayed if pending.delayed else self._queues[pending.level]
        queue.remove(pending)

    def __len__(self) -> int:
        return sum(len(q) for q in self._queues.values()) + len(self._delayed)

    def in_order(self) -> Iterator[PendingRequest]:
        for lvl in range(1, self.levels + 1):
            yield from self._queues[lvl]
        yield from self._delayed
