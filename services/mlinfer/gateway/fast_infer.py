"""The inference routes without the web framework's per-request machinery.

``POST /v2/models/{model}[/versions/{version}]/infer`` is almost all of the traffic, and on
small tensors the framework's routing (a regex per route until one matches), dependency
solving and response objects cost as much as the inference. This middleware sits innermost,
below the gateway's own middleware (metrics and security headers, CORS, the last resort), so
those apply unchanged; it recognises the two inference paths with one regex, calls the same
:class:`~mlinfer.gateway.infer_call.InferCall` the FastAPI route calls, and writes the
answer as two ASGI messages. Every other request, and an inference path in a method or form
the framework answers itself (405, trailing slash, a root path), goes on to FastAPI, which
also keeps describing these routes in the OpenAPI document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from mlinfer.core.errors import MLInferError
from mlinfer.gateway.errors import error_response, handle_http_exception
from mlinfer.gateway.infer_call import InferAnswer, InferCall

# Starlette's ``{model}`` is ``[^/]+`` and ``{version:int}`` is ``[0-9]+``: the same here.
_INFER_PATH = re.compile(r"/v2/models/([^/]+)/(?:versions/([0-9]+)/)?infer")


@dataclass(frozen=True)
class RouteTemplate:
    """What the gateway middleware reads from ``scope["route"]``: the route's template,
    the metrics' ``route`` label (as FastAPI's route for the same path names it)."""

    path: str


_UNVERSIONED = RouteTemplate("/v2/models/{model}/infer")
_VERSIONED = RouteTemplate("/v2/models/{model}/versions/{version:int}/infer")


class FastInferMiddleware:
    def __init__(self, app: ASGIApp, call: InferCall) -> None:
        self.app = app
        self._call = call

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = None
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            match = _INFER_PATH.fullmatch(scope["path"])
        if match is None:
            await self.app(scope, receive, send)
            return
        model, digits = match.group(1, 2)
        version = None if digits is None else int(digits)
        scope["route"] = _UNVERSIONED if version is None else _VERSIONED
        try:
            answer = await self._call(Request(scope, receive), model, version)
        except MLInferError as exc:
            await error_response(exc)(scope, receive, send)
            return
        except HTTPException as exc:  # the body deadline's 408, as the app's handler answers it
            await (await handle_http_exception(Request(scope), exc))(scope, receive, send)
            return
        await _send_answer(answer, send)


async def _send_answer(answer: InferAnswer, send: Send) -> None:
    body = answer.body
    headers = [(name.lower().encode("latin-1"), value.encode("latin-1"))
               for name, value in answer.headers.items()]  # fmt: skip
    headers.append((b"content-length", str(len(body)).encode("ascii")))
    headers.append((b"content-type", answer.media_type.encode("ascii")))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
