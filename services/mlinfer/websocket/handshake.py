"""The opening handshake: who is calling, which flow policy, and the refusal response.

Browsers cannot set headers on a WebSocket, so besides ``Authorization`` / ``X-API-Key``
the credentials may travel as subprotocols (``Sec-WebSocket-Protocol``)::

    new WebSocket(url, ["mlinfer.v1", "bearer." + jwt])   // or "apikey." + key

The server then selects ``mlinfer.v1`` (never the credential) as the browser requires.
"""

from __future__ import annotations

import orjson
from starlette.responses import Response
from starlette.websockets import WebSocket

from mlinfer.core.errors import InvalidInputError, MLInferError
from mlinfer.listeners.websocket_settings import FlowPolicy
from mlinfer.transport.policy import Caller

SUBPROTOCOL = "mlinfer.v1"
_BEARER, _API_KEY = "bearer.", "apikey."
POLICY_CLOSE_CODE = 1008  # when the server cannot send an HTTP refusal


def handshake_caller(websocket: WebSocket) -> tuple[Caller, str | None]:
    """The caller's credentials and the subprotocol to select (None: select none).

    A header wins over a subprotocol token of the same kind; two headers, or two tokens,
    of one kind are all passed on, and authentication refuses them rather than pick one."""
    offered: list[str] = list(websocket.scope.get("subprotocols", []))
    tokens = ["Bearer " + p.removeprefix(_BEARER) for p in offered if p.startswith(_BEARER)]
    keys = [p.removeprefix(_API_KEY) for p in offered if p.startswith(_API_KEY)]
    authorization = websocket.headers.getlist("authorization") or tokens
    api_key = websocket.headers.getlist("x-api-key") or keys
    peer = websocket.client.host if websocket.client else None
    selected = SUBPROTOCOL if SUBPROTOCOL in offered else None
    return Caller.from_values(authorization, api_key, peer), selected


def flow_policy(websocket: WebSocket, default: FlowPolicy) -> FlowPolicy:
    """``?policy=queue|latest`` declared by the client, else the server's default."""
    value = websocket.query_params.get("policy", default)
    if value == "queue":
        return "queue"
    if value == "latest":
        return "latest"
    raise InvalidInputError(f"unknown flow policy '{value[:32]}': use 'queue' or 'latest'")


async def refuse(websocket: WebSocket, exc: MLInferError) -> None:
    """Answer the handshake with the HTTP error REST would give (401, 403, 404, 429 ...)."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        body = orjson.dumps({"error": exc.message})
        headers = {**exc.headers(), "content-type": "application/json"}
        await websocket.send_denial_response(Response(body, exc.status.value, headers))
    else:
        await websocket.close(POLICY_CLOSE_CODE, exc.message[:120])
