"""Instances added and retired while the scheduler runs (the autoscaler's embedded actuator)."""

from __future__ import annotations

import asyncio

import pytest

from mlinfer.batching.queue import PriorityQueue
from mlinfer.batching.scheduler import BatchingPolicy, Scheduler
from tests.unit.batching.test_scheduler import GatedRunner, _key, _request, _wait_started

ALONE = BatchingPolicy(max_batch_size=0, dynamic=False)


async def test_an_added_instance_takes_work_while_the_first_is_busy() -> None:
    runner = GatedRunner()
    s = Scheduler("m:1", ALONE, PriorityQueue(), 1, runner)
    s.start()
    first = s.submit(_request("a"), 1, _key()).future
    await _wait_started(runner)  # "a" holds the only instance
    s.add_instance()
    second = s.submit(_request("b"), 1, _key()).future
    await _wait_started(runner)  # "b" started too: on the new instance
    assert s.instances == 2
    runner.gate.set()
    assert await asyncio.gather(first, second) == ["a", "b"]
    await s.drain_and_stop()


async def test_a_retired_instance_finishes_its_batch_and_takes_no_other() -> None:
    runner = GatedRunner()
    s = Scheduler("m:1", ALONE, PriorityQueue(), 2, runner)
    s.start()
    running = [s.submit(_request(r), 1, _key()).future for r in ("a", "b")]
    await _wait_started(runner)
    await _wait_started(runner)  # both instances execute
    retire = asyncio.create_task(s.remove_instance())
    queued = [s.submit(_request(r), 1, _key()).future for r in ("c", "d", "e")]
    await asyncio.sleep(0)
    assert not retire.done()  # it waits for the batch its instance runs
    runner.gate.set()
    await retire
    assert s.instances == 1
    assert await asyncio.gather(*running, *queued) == ["a", "b", "c", "d", "e"]
    await s.drain_and_stop()


async def test_the_last_instance_cannot_be_retired() -> None:
    s = Scheduler("m:1", ALONE, PriorityQueue(), 1, GatedRunner())
    s.start()
    with pytest.raises(ValueError, match="at least one instance"):
        await s.remove_instance()
    await s.drain_and_stop()
