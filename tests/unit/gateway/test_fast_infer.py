"""The lean inference path: it takes exactly the requests FastAPI would route to ``infer``,
answers them itself (the app below it never sees them), and passes everything else on."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send

from mlinfer.core.errors import MLInferError
from mlinfer.gateway.fast_infer import FastInferMiddleware
from mlinfer.gateway.routes_v2 import V2Routes
from mlinfer.server import Server
from mlinfer.transport.policy import RequestPolicy
from tests.support.servers import settings_for

PATHS = [
    "/v2/models/simple/infer",
    "/v2/models/simple/versions/1/infer",
    "/v2/models/simple/versions/007/infer",
    "/v2/models/simple/versions/x/infer",
    "/v2/models/simple/versions/-1/infer",
    "/v2/models/simple/infer/",
    "/v2/models/simple/versions/1/infer/",
    "/v2/models/a/b/infer",
    "/v2/models//infer",
    "/v2/models/versions/infer",
    "/v2/models/simple/ready",
    "/v2/models/stats",
    "/v2/models/simple%20x/infer",
    "/v2/models/simple/inference",
    "/v2//models/simple/infer",
]


@pytest.fixture
async def server(sample_repository: Path) -> AsyncIterator[Server]:
    srv = Server(settings_for(sample_repository), rest=False)
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


async def _routed_to_infer(app: FastAPI, method: str, path: str) -> bool:
    """Whether FastAPI's own routing sends ``method path`` to the ``infer`` endpoint."""
    scope: dict[str, Any] = {
        "type": "http", "method": method, "path": path, "raw_path": path.encode(),
        "root_path": "", "query_string": b"", "headers": [], "http_version": "1.1",
        "scheme": "http", "server": ("t", 80), "client": ("127.0.0.1", 1),
    }  # fmt: skip

    async def receive() -> Message:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    statuses: list[int] = []

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    with contextlib.suppress(MLInferError):  # this bare app has no error handlers
        await app(scope, receive, send)
    allowed = statuses != [405]  # a path match in another method is FastAPI's 405
    return allowed and getattr(scope.get("endpoint"), "__name__", "") == "infer"


@pytest.mark.parametrize("method", ["POST", "GET", "PUT"])
async def test_takes_what_the_framework_routes_to_infer_and_nothing_else(
    server: Server, method: str
) -> None:
    s = server
    framework = FastAPI()
    framework.include_router(
        V2Routes(
            s.dataplane, s.settings, s.tracer, RequestPolicy.from_settings(s.guard, s.settings)
        ).router()
    )
    seen: list[str] = []

    async def below(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["path"])
        await send({"type": "http.response.start", "status": 418, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    fast = _fast(s, below)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=fast), base_url="http://t") as c:
        for path in PATHS:
            seen.clear()
            await c.request(method, path, content=b"{}")
            routed = await _routed_to_infer(framework, method, path)
            assert (seen == []) == routed, (
                f"{method} {path}: framework routes it to infer: {routed}"
            )


def _fast(server: Server, below: object) -> FastInferMiddleware:
    policy = RequestPolicy.from_settings(server.guard, server.settings)
    v2 = V2Routes(server.dataplane, server.settings, server.tracer, policy)
    return FastInferMiddleware(below, call=v2.infer_call)  # type: ignore[arg-type]


async def _never(scope: Scope, receive: Receive, send: Send) -> None:
    raise AssertionError(f"{scope['method']} {scope['path']} reached the app below")


async def test_answers_inference_itself(server: Server) -> None:
    a = np.arange(16, dtype=np.int32).reshape(1, 16)
    b = np.full((1, 16), 3, dtype=np.int32)
    head = (
        b'{"id":"r1","inputs":['
        b'{"name":"INPUT0","datatype":"INT32","shape":[1,16],"parameters":{"binary_data_size":64}},'
        b'{"name":"INPUT1","datatype":"INT32","shape":[1,16],"parameters":{"binary_data_size":64}}],'
        b'"outputs":[{"name":"OUTPUT0","parameters":{"binary_data":true}},{"name":"OUTPUT1"}]}'
    )
    transport = httpx.ASGITransport(app=_fast(server, _never))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        r = await c.post(
            "/v2/models/simple/versions/1/infer",
            content=head + a.tobytes() + b.tobytes(),
            headers={"Inference-Header-Content-Length": str(len(head))},
        )
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/octet-stream"
        assert r.headers["x-request-id"] == "r1"
        size = int(r.headers["inference-header-content-length"])
        doc = httpx.Response(200, content=r.content[:size]).json()
        assert doc["model_version"] == "1"
        assert [o["name"] for o in doc["outputs"]] == ["OUTPUT0", "OUTPUT1"]
        out0 = np.frombuffer(r.content[size:], dtype=np.int32)
        assert out0.tolist() == (a + b).ravel().tolist()
        assert doc["outputs"][1]["data"] == (a - b).ravel().tolist()
        assert int(r.headers["content-length"]) == len(r.content)

        body = b'{"inputs":[{"name":"INPUT0","datatype":"INT32","shape":[1],"data":[1]}]}'
        missing = await c.post("/v2/models/nope/infer", content=body)
        assert missing.status_code == 404
        assert "nope" in missing.json()["error"]
        assert missing.headers["x-request-id"]
