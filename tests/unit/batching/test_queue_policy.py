"""Priority levels and queue policies as config.pbtxt states them, and the queue's order."""

from __future__ import annotations

import asyncio

import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as mc

from mlinfer.batching.queue import PendingRequest, PriorityQueue, QueuePolicy
from mlinfer.core.errors import UnavailableError
from mlinfer.core.types import InferRequest

CONFIG = """
name: "m"
max_batch_size: 8
dynamic_batching {
  priority_levels: 3
  default_priority_level: 2
  default_queue_policy {
    max_queue_size: 4
    default_timeout_microseconds: 2500
    allow_timeout_override: true
    timeout_action: DELAY
  }
  priority_queue_policy {
    key: 1
    value { max_queue_size: 1 timeout_action: REJECT }
  }
  priority_queue_policy {
    key: 3
    value { default_timeout_microseconds: 7 }
  }
}
"""


def _batching(text: str = CONFIG) -> mc.ModelDynamicBatching:
    config = text_format.Parse(text, mc.ModelConfig())
    return config.dynamic_batching


def _pending(level: int, rid: str = "") -> PendingRequest:
    future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
    return PendingRequest(InferRequest("m", [], id=rid), 1, (), future, level)


def test_levels_default_level_and_policies_come_from_config() -> None:
    queue = PriorityQueue.from_config(_batching())
    assert queue.levels == 3
    assert queue.default_level == 2
    assert queue.policy(2) == QueuePolicy(
        max_queue_size=4,
        default_timeout_us=2500,
        allow_timeout_override=True,
        delay_on_timeout=True,
    )
    assert queue.policy(1) == QueuePolicy(max_queue_size=1, delay_on_timeout=False)
    assert queue.policy(3) == QueuePolicy(default_timeout_us=7)


@pytest.mark.parametrize(("action", "delay"), [("DELAY", True), ("REJECT", False)])
def test_timeout_action(action: str, delay: bool) -> None:
    policy = mc.ModelQueuePolicy()
    text_format.Parse(f"timeout_action: {action}", policy)
    assert QueuePolicy.from_proto(policy).delay_on_timeout is delay


def test_without_dynamic_batching_one_unbounded_level() -> None:
    unset = _batching("name: 'm'")
    for queue in (PriorityQueue.from_config(None), PriorityQueue.from_config(unset)):
        assert queue.levels == 1
        assert queue.default_level == 1
        assert queue.policy(1) == QueuePolicy()


def test_last_level_is_a_level_of_its_own() -> None:
    queue = PriorityQueue(levels=3, default_level=1)
    assert [queue.level_for(p) for p in (0, 1, 2, 3, 4, -1)] == [1, 1, 2, 3, 1, 1]


def test_default_level_outside_the_levels_falls_back_to_the_first() -> None:
    assert PriorityQueue(levels=3, default_level=3).default_level == 3
    assert PriorityQueue(levels=3, default_level=4).default_level == 1
    assert PriorityQueue(levels=3, default_level=0).default_level == 1
    assert PriorityQueue(levels=0, default_level=1).levels == 1


async def test_max_queue_size_is_per_level() -> None:
    queue = PriorityQueue.from_config(_batching())
    queue.push(_pending(1, "a"))
    with pytest.raises(UnavailableError, match=r"^Exceeds maximum queue size$") as info:
        queue.push(_pending(1, "b"))
    assert info.value.retry_after_s == 1.0
    for i in range(4):
        queue.push(_pending(2, f"c{i}"))  # level 2 holds up to 4
    with pytest.raises(UnavailableError):
        queue.push(_pending(2, "c4"))
    for i in range(10):
        queue.push(_pending(3, f"d{i}"))  # level 3: no limit
    assert len(queue) == 15


async def test_order_is_by_level_then_arrival_then_delayed() -> None:
    queue = PriorityQueue(levels=2)
    low, high, late, high2 = (
        _pending(lvl, rid) for lvl, rid in [(2, "low"), (1, "high"), (1, "late"), (1, "high2")]
    )
    for p in (low, high, late, high2):
        queue.push(p)
    queue.delay(late)
    assert late.delayed
    assert [p.request.id for p in queue.in_order()] == ["high", "high2", "low", "late"]
    assert len(queue) == 4
    queue.remove(late)  # a delayed request is removed from the delayed queue
    queue.remove(high)
    assert [p.request.id for p in queue.in_order()] == ["high2", "low"]
    assert len(queue) == 2


def test_timeout_override() -> None:
    assert QueuePolicy(default_timeout_us=10, allow_timeout_override=True).timeout_us(3) == 3
    assert QueuePolicy(default_timeout_us=10, allow_timeout_override=False).timeout_us(3) == 10
    assert QueuePolicy(default_timeout_us=10, allow_timeout_override=True).timeout_us(0) == 10


@pytest.mark.parametrize("level", [0, 4])
async def test_a_level_the_queue_does_not_serve_is_refused_not_parked(level: int) -> None:
    queue = PriorityQueue(levels=3)
    # A request parked at a level in_order() never visits would wait forever.
    with pytest.raises(KeyError):
        queue.push(_pending(level, "lost"))
    with pytest.raises(KeyError):
        queue.policy(level)
    assert len(queue) == 0
