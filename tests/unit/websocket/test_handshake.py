"""Credentials at the handshake: headers, or the subprotocol form browsers have to use."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.websockets import WebSocket

from mlinfer.core.errors import InvalidInputError
from mlinfer.websocket.handshake import flow_policy, handshake_caller


def _socket(headers: dict[str, str], subprotocols: list[str], query: str = "") -> WebSocket:
    scope: dict[str, Any] = {
        "type": "websocket",
        "path": "/v2/models/m/infer/ws",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "subprotocols": subprotocols,
        "query_string": query.encode(),
        "client": ("10.0.0.7", 5555),
    }

    async def nothing() -> Any:
        raise AssertionError("not called")

    return WebSocket(scope, nothing, nothing)


def test_header_credentials_and_no_subprotocol() -> None:
    caller, selected = handshake_caller(_socket({"X-API-Key": "k1"}, []))
    assert (caller.api_key, caller.authorization, caller.peer, selected) == (
        "k1",
        None,
        "10.0.0.7",
        None,
    )


def test_subprotocol_token_forms_and_the_selected_protocol() -> None:
    caller, selected = handshake_caller(_socket({}, ["mlinfer.v1", "bearer.a.b.c"]))
    assert caller.authorization == "Bearer a.b.c" and selected == "mlinfer.v1"
    caller, selected = handshake_caller(_socket({}, ["apikey.mlk_x"]))
    assert caller.api_key == "mlk_x" and selected is None  # never the credential itself


def test_a_header_wins_over_a_subprotocol_token() -> None:
    caller, _ = handshake_caller(_socket({"Authorization": "Bearer h"}, ["bearer.p"]))
    assert caller.authorization == "Bearer h"


def test_flow_policy_from_the_query() -> None:
    assert flow_policy(_socket({}, [], "policy=latest"), "queue") == "latest"
    assert flow_policy(_socket({}, []), "latest") == "latest"
    with pytest.raises(InvalidInputError, match="unknown flow policy"):
        flow_policy(_socket({}, [], "policy=newest"), "queue")


def test_two_credentials_of_a_kind_are_all_passed_on() -> None:
    # Two tokens (or two headers) are not resolved here: authentication refuses them.
    caller, _ = handshake_caller(_socket({}, ["mlinfer.v1", "bearer.a", "bearer.b"]))
    assert caller.authorization == ("Bearer a", "Bearer b")
    caller, _ = handshake_caller(_socket({}, ["apikey.k1", "apikey.k2"]))
    assert caller.api_key == ("k1", "k2")
