"""One socket write per response: the response head goes out with the first body chunk.

uvicorn's httptools protocol writes the status line and headers as soon as the app sends
``http.response.start`` and the body when it sends ``http.response.body``: two ``send``
system calls, and with ``TCP_NODELAY`` two TCP segments, for every small answer. Here the
head is held until the first body chunk and both are written at once; a response that has
no body write (HEAD, or an app that stops after the head) has its head flushed when the
send returns or the transport closes, so nothing is ever held back from the client.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.types import Message


class _JoinedTransport:
    """The cycle's view of the connection: writes pass through, except a held head."""

    __slots__ = ("_head", "_transport", "hold_next")

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._head: bytes | None = None
        self.hold_next = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self.hold_next:
            self.hold_next = False
            self._head = bytes(data)
            return
        head, self._head = self._head, None
        self._transport.write(data if head is None else head + data)

    def flush(self) -> None:
        head, self._head = self._head, None
        if head is not None:
            self._transport.write(head)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def join_head_and_body(cycle: Any) -> None:
    """Make one uvicorn ``RequestResponseCycle`` write its head with its first body chunk.

    Call before the cycle's ASGI task starts; the task looks ``send`` up on the instance.
    """
    joined = _JoinedTransport(cycle.transport)
    cycle.transport = joined
    send = cycle.send

    async def joined_send(message: Message) -> None:
        joined.hold_next = message["type"] == "http.response.start" and not cycle.response_started
        try:
            await send(message)
        finally:
            joined.hold_next = False
        if message["type"] == "http.response.body":
            joined.flush()  # a body that wrote nothing (HEAD) still gets its head out

    cycle.send = joined_send
