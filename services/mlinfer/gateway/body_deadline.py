"""A deadline on reading request bodies: a client that stalls or trickles its body is answered
408 and disconnected instead of holding a connection (and a request slot) for as long as it likes.

uvicorn bounds the wait for a request's headers (h11's incomplete-event size, keep-alive
timeout) but not for its body: ``receive()`` waits as long as the peer keeps the socket open.
The deadline counts from when the request reached the app and covers the whole body.

The refusal is an ``HTTPException`` (answered in Triton's error shape by the app's handler)
because FastAPI turns any other exception raised while it reads a body parameter into a 400
"There was an error parsing the body". It closes the connection: the rest of the body would
be read as the next request.
"""

from __future__ import annotations

import asyncio

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyDeadlineMiddleware:
    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.seconds <= 0:
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.seconds
        body_done = False

        async def timed_receive() -> Message:
            nonlocal body_done
            if body_done:  # waiting for a disconnect (streaming responses): no deadline
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise HTTPException(
                    408,
                    f"request body not received within {self.seconds:g} s "
                    "(MLINFER_REQUEST_BODY_TIMEOUT_S)",
                    headers={"Connection": "close"},
                ) from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        await self.app(scope, timed_receive, send)
