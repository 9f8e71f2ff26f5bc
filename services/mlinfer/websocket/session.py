"""One open stream: read frames, infer up to ``max_in_flight`` at once, answer in order.

Three kinds of task share the stream: the reader puts frames into the :class:`FrameFlow`,
``max_in_flight`` workers take them (in arrival order) and infer, and the sender sends the
answers in that same order. A slot is held from the moment a worker takes a frame until its
answer is sent, so a client that stops reading stops the stream too. When the client goes
away every task is cancelled: in-flight inferences are cancelled through the DataPlane
(admission slots and batch queue entries are released there).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from starlette.websockets import WebSocket, WebSocketDisconnect

from mlinfer.listeners.websocket_settings import FlowPolicy
from mlinfer.websocket.flow import FlowCounters, FrameFlow
from mlinfer.websocket.frames import Frame, Message

FrameHandler = Callable[[Frame, FlowCounters], Awaitable[Message]]

IDLE_CLOSE_CODE = 1001  # "going away": the server ends an idle stream
IDLE_REASON = "idle timeout"


class StreamSession:
    def __init__(
        self,
        websocket: WebSocket,
        handler: FrameHandler,
        *,
        policy: FlowPolicy,
        max_in_flight: int,
        max_waiting: int,
        idle_seconds: float,
    ) -> None:
        self._ws = websocket
        self._handler = handler
        self._flow: FrameFlow[Frame] = FrameFlow(policy, max_waiting)
        self._slots = asyncio.Semaphore(max_in_flight)
        self._max_in_flight = max_in_flight
        self._idle_seconds = idle_seconds
        self._answers: asyncio.Queue[asyncio.Future[Message]] = asyncio.Queue()
        self._active = 0  # frames taken by a worker and not yet answered

    @property
    def counters(self) -> FlowCounters:
        return self._flow.counters

    async def run(self) -> None:
        """Serve the stream until the client closes it, goes away or stays idle."""
        tasks = [
            asyncio.create_task(self._worker(), name=f"ws-worker-{i}")
            for i in range(self._max_in_flight)
        ]
        reader = asyncio.create_task(self._reader(), name="ws-reader")
        sender = asyncio.create_task(self._sender(), name="ws-sender")
        try:
            await asyncio.wait([reader, sender], return_when=asyncio.FIRST_COMPLETED)
        finally:
            everything = [*tasks, reader, sender]
            for task in everything:
                task.cancel()
            results = await asyncio.gather(*everything, return_exceptions=True)
        for result in results:
            # a client gone mid-send is the normal end of a stream, anything else is a fault
            if isinstance(result, Exception) and not _disconnected(result):
                raise result

    async def _reader(self) -> None:
        seq = 0
        while True:
            try:
                message = await asyncio.wait_for(self._ws.receive(), self._idle_seconds)
            except asyncio.TimeoutError:  # not the builtin before Python 3.11
                if self._active or self._flow.waiting:
                    continue  # quiet client, busy stream: not idle
                await self._ws.close(IDLE_CLOSE_CODE, IDLE_REASON)
                return
            if message["type"] == "websocket.disconnect":
                return
            data: Message | None = message.get("bytes")
            if data is None:
                data = message.get("text") or ""
            seq += 1
            await self._flow.put(Frame(seq, data))

    async def _worker(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._slots.acquire()
            frame = await self._flow.take()
            self._active += 1
            answer: asyncio.Future[Message] = loop.create_future()
            self._answers.put_nowait(answer)  # queued in take order: answers stay in order
            answer.set_result(await self._handler(frame, self._flow.counters))

    async def _sender(self) -> None:
        while True:
            answer = await self._answers.get()
            message = await answer
            if isinstance(message, bytes):
                await self._ws.send_bytes(message)
            else:
                await self._ws.send_text(message)
            self._active -= 1
            self._slots.release()


def _disconnected(exc: BaseException) -> bool:
    # Starlette raises WebSocketDisconnect, uvicorn a ClientDisconnected (an OSError) or a
    # RuntimeError once the socket is closed.
    return isinstance(exc, WebSocketDisconnect | OSError | RuntimeError)
