"""Flow control of one stream: ``queue`` waits for room, ``latest`` keeps the newest frame."""

from __future__ import annotations

import asyncio

from mlinfer.websocket.flow import FrameFlow


async def test_queue_keeps_every_frame_in_order_and_makes_the_reader_wait() -> None:
    flow: FrameFlow[int] = FrameFlow("queue", max_waiting=2)
    await flow.put(1)
    await flow.put(2)
    third = asyncio.create_task(flow.put(3))
    await asyncio.sleep(0)  # let it run until it blocks
    assert not third.done() and flow.waiting == 2  # full: the reader waits, nothing dropped
    assert await flow.take() == 1
    await third
    assert [await flow.take(), await flow.take()] == [2, 3]
    assert flow.counters.dropped == 0 and flow.counters.received == 3


async def test_latest_drops_older_waiting_frames() -> None:
    flow: FrameFlow[int] = FrameFlow("latest", max_waiting=8)
    for frame in range(1, 6):
        await flow.put(frame)  # never waits
    assert flow.waiting == 1
    assert await flow.take() == 5
    assert flow.counters.dropped == 4 and flow.counters.received == 5


async def test_take_waits_for_a_frame() -> None:
    flow: FrameFlow[str] = FrameFlow("queue", max_waiting=1)
    taker = asyncio.create_task(flow.take())
    await asyncio.sleep(0)
    assert not taker.done()
    await flow.put("frame")
    assert await taker == "frame"
