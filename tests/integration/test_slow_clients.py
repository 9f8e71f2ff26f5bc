"""A REST client that stalls in the middle of its body is answered 408 and disconnected; the
server keeps serving everyone else meanwhile (uvicorn alone waits on such a body forever)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.servers import ServerThread, settings_for

BODY_TIMEOUT_S = 1.0
# A safety net against a hang (the failure this test looks for), far past the deadline.
SOCKET_TIMEOUT_S = 120.0


@pytest.fixture(scope="module")
def srv(sample_repository: Path) -> Iterator[ServerThread]:
    settings = settings_for(sample_repository, request_body_timeout_s=BODY_TIMEOUT_S)
    with ServerThread(settings) as server:
        yield server


def _half_sent(address: str, path: str) -> socket.socket:
    host, port = address.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=SOCKET_TIMEOUT_S)
    body = json.dumps({"inputs": []}).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body) + 1000}\r\n\r\n"
    ).encode()
    sock.sendall(head + body)  # 1000 bytes short, and nothing more comes
    return sock


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):  # b"" once the server closes the connection
        chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("path", ["/v2/models/simple/infer", "/infer"])
def test_stalled_body_is_408_and_the_connection_closed(srv: ServerThread, path: str) -> None:
    with _half_sent(srv.http, path) as sock:
        with httpx.Client(base_url=f"http://{srv.http}") as http:  # others are served meanwhile
            assert http.get("/v2/health/ready").status_code == 200
        reply = _read_all(sock)
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 "), reply
    assert b"connection: close" in head.lower()
    assert json.loads(body) == {
        "error": "request body not received within 1 s (MLINFER_REQUEST_BODY_TIMEOUT_S)"
    }


def test_whole_body_in_time_is_served(srv: ServerThread) -> None:
    ones = [1] * 16
    body = {
        "inputs": [
            {"name": "INPUT0", "datatype": "INT32", "shape": [1, 16], "data": ones},
            {"name": "INPUT1", "datatype": "INT32", "shape": [1, 16], "data": ones},
        ]
    }
    with httpx.Client(base_url=f"http://{srv.http}") as http:
        response = http.post("/v2/models/simple/infer", json=body)
    assert response.status_code == 200, response.text
