"""Admission control: priority order, bounded queue, bounded wait, cancellation."""

from __future__ import annotations

import asyncio

import pytest

from mlinfer.admission.controller import AdmissionController
from mlinfer.core.errors import UnavailableError


async def _hold(
    controller: AdmissionController,
    priority: int,
    started: list[int],
    release: asyncio.Event,
    tag: int,
) -> None:
    async with controller.admit(priority):
        started.append(tag)
        await release.wait()


async def test_higher_priority_waiter_is_admitted_first() -> None:
    shed: list[str] = []
    controller = AdmissionController(1, 10, 60.0, on_shed=shed.append)
    release = asyncio.Event()
    started: list[int] = []
    first = asyncio.create_task(_hold(controller, 2, started, release, 0))
    await asyncio.sleep(0)
    waiters = [
        asyncio.create_task(_hold(controller, p, started, release, tag))
        for tag, p in ((1, 3), (2, 0), (3, 1))
    ]  # 0 = default priority (2)
    while controller.stats.queued < 3:  # noqa: ASYNC110 - condition on the controller's state
        await asyncio.sleep(0)
    release.set()
    await asyncio.gather(first, *waiters)
    assert started == [0, 3, 2, 1]
    assert controller.stats.inflight == 0 and shed == []


async def test_full_queue_sheds_with_retry_after() -> None:
    shed: list[str] = []
    controller = AdmissionController(1, 1, 60.0, on_shed=shed.append)
    release = asyncio.Event()
    started: list[int] = []
    holder = asyncio.create_task(_hold(controller, 1, started, release, 0))
    await asyncio.sleep(0)
    queued = asyncio.create_task(_hold(controller, 1, started, release, 1))
    while controller.stats.queued < 1:  # noqa: ASYNC110
        await asyncio.sleep(0)
    with pytest.raises(UnavailableError, match="admission queue is full") as info:
        async with controller.admit(1):
            pass
    assert info.value.retry_after_s is not None and info.value.retry_after_s >= 1
    assert shed == ["queue_full"]
    release.set()
    await asyncio.gather(holder, queued)


async def test_waiting_too_long_sheds() -> None:
    shed: list[str] = []
    controller = AdmissionController(1, 10, 0.01, on_shed=shed.append)
    release = asyncio.Event()
    holder = asyncio.create_task(_hold(controller, 1, [], release, 0))
    await asyncio.sleep(0)
    with pytest.raises(UnavailableError, match=r"waited 0\.01 s"):
        async with controller.admit(1):
            pass
    assert shed == ["timeout"] and controller.stats.queued == 0
    release.set()
    await holder
    assert controller.stats.inflight == 0


async def test_cancelled_waiter_leaves_no_trace() -> None:
    controller = AdmissionController(1, 10, 60.0)
    release = asyncio.Event()
    holder = asyncio.create_task(_hold(controller, 1, [], release, 0))
    await asyncio.sleep(0)
    waiter = asyncio.create_task(_hold(controller, 1, [], release, 1))
    while controller.stats.queued < 1:  # noqa: ASYNC110
        await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert controller.stats.queued == 0
    release.set()
    await holder
    assert controller.stats.inflight == 0


async def test_disabled_controller_admits_everything() -> None:
    controller = AdmissionController(0, 0, 0.0)
    async with controller.admit(5) as waited:
        assert waited == 0.0


async def test_more_important_request_evicts_least_important_waiter() -> None:
    shed: list[str] = []
    controller = AdmissionController(1, 2, 60.0, on_shed=shed.append)
    release = asyncio.Event()
    started: list[int] = []
    holder = asyncio.create_task(_hold(controller, 1, started, release, 0))
    await asyncio.sleep(0)
    lows = [asyncio.create_task(_hold(controller, 3, started, release, t)) for t in (1, 2)]
    while controller.stats.queued < 2:  # noqa: ASYNC110
        await asyncio.sleep(0)
    high = asyncio.create_task(_hold(controller, 1, started, release, 9))
    with pytest.raises(UnavailableError, match="admission queue is full"):
        await lows[1]  # the newest of the least important waiters made room
    release.set()
    await asyncio.gather(holder, high, lows[0])
    assert started == [0, 9, 1]
    assert shed == ["queue_full"]
