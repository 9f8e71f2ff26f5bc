"""Every malformed request gets a 4xx naming the problem, and the server keeps serving."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from tests.support.servers import ServerThread, settings_for

ONES = [1] * 16


def _simple_body(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "inputs": [
            {"name": "INPUT0", "datatype": "INT32", "shape": [1, 16], "data": ONES},
            {"name": "INPUT1", "datatype": "INT32", "shape": [1, 16], "data": ONES},
        ]
    }
    body.update(changes)
    return body


@pytest.fixture(scope="module")
def small_limit_server(sample_repository: object) -> Iterator[ServerThread]:
    settings = settings_for(sample_repository, max_request_bytes=4096)  # type: ignore[arg-type]
    with ServerThread(settings) as srv:
        yield srv


@pytest.fixture
def http(small_limit_server: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"http://{small_limit_server.http}") as client:
        yield client


def _binary_request(header: dict[str, object], payload: bytes) -> tuple[bytes, dict[str, str]]:
    head = json.dumps(header).encode()
    return head + payload, {
        "Inference-Header-Content-Length": str(len(head)),
        "Content-Type": "application/octet-stream",
    }


CASES = {
    "unknown model": (
        "/v2/models/nope/infer",
        _simple_body(),
        404,
        "Request for unknown model: 'nope' is not found",
    ),
    "unknown version": (
        "/v2/models/simple/versions/7/infer",
        _simple_body(),
        404,
        "'simple' version 7 is not found",
    ),
    "missing input": (
        "/v2/models/simple/infer",
        {"inputs": _simple_body()["inputs"][:1]},  # type: ignore[index]
        400,
        "missing required input(s) ['INPUT1']",
    ),
    "extra input": (
        "/v2/models/simple/infer",
        {
            "inputs": [
                *_simple_body()["inputs"],  # type: ignore[misc]
                {"name": "INPUT9", "datatype": "INT32", "shape": [1], "data": [1]},
            ]
        },
        400,
        "unexpected inference input 'INPUT9'",
    ),
    "wrong datatype": (
        "/v2/models/simple/infer",
        {
            "inputs": [
                {"name": "INPUT0", "datatype": "FP32", "shape": [1, 16], "data": ONES},
                _simple_body()["inputs"][1],
            ]
        },  # type: ignore[index]
        400,
        "data-type is 'FP32', but model 'simple' expects 'INT32'",
    ),
    "wrong shape": (
        "/v2/models/simple/infer",
        {
            "inputs": [
                {"name": n, "datatype": "INT32", "shape": [1, 8], "data": [1] * 8}
                for n in ("INPUT0", "INPUT1")
            ]
        },
        400,
        "unexpected shape for input 'INPUT0' for model 'simple'. Expected [-1,16], got [1,8]",
    ),
    "data count vs shape": (
        "/v2/models/simple/infer",
        {"inputs": [{"name": "INPUT0", "datatype": "INT32", "shape": [1, 16], "data": [1, 2]}]},
        400,
        "unexpected number of elements 2",
    ),
    "batch too large": (
        "/v2/models/simple/infer",
        {
            "inputs": [
                {"name": n, "datatype": "INT32", "shape": [9, 16], "data": [1] * 144}
                for n in ("INPUT0", "INPUT1")
            ]
        },
        400,
        "batch-size must be <= 8",
    ),
    "unknown datatype": (
        "/v2/models/simple/infer",
        {"inputs": [{"name": "INPUT0", "datatype": "FP8", "shape": [1], "data": [1]}]},
        400,
        "invalid datatype 'FP8'",
    ),
    "unknown output": (
        "/v2/models/simple/infer",
        _simple_body(outputs=[{"name": "OUTPUT7"}]),
        400,
        "unexpected inference output 'OUTPUT7'",
    ),
    "no inputs": ("/v2/models/simple/infer", {"inputs": []}, 400, "non-empty 'inputs'"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_json_errors(http: httpx.Client, case: str) -> None:
    path, body, status, message = CASES[case]
    response = http.post(path, json=body)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]
    assert http.get("/v2/health/ready").status_code == 200


def test_malformed_json(http: httpx.Client) -> None:
    response = http.post("/v2/models/simple/infer", content=b'{"inputs": [')
    assert response.status_code == 400
    assert "failed to parse the request JSON" in response.json()["error"]


def test_binary_byte_count_mismatch(http: httpx.Client) -> None:
    raw = np.ones(15, np.int32).tobytes()  # 60 bytes for a [1,16] INT32 tensor
    inputs = [
        {"name": n, "datatype": "INT32", "shape": [1, 16], "parameters": {"binary_data_size": 60}}
        for n in ("INPUT0", "INPUT1")
    ]
    body, headers = _binary_request({"inputs": inputs}, raw + raw)
    response = http.post("/v2/models/simple/infer", content=body, headers=headers)
    assert response.status_code == 400
    assert (
        "unexpected total byte size 60 for input 'INPUT0', expecting 64"
        in (response.json()["error"])
    )


def test_binary_sizes_overrun_body(http: httpx.Client) -> None:
    inputs = [
        {
            "name": "INPUT0",
            "datatype": "INT32",
            "shape": [1, 16],
            "parameters": {"binary_data_size": 64},
        }
    ]
    body, headers = _binary_request({"inputs": inputs}, b"\0" * 10)
    response = http.post("/v2/models/simple/infer", content=body, headers=headers)
    assert response.status_code == 400
    assert "unexpected end of binary data for input 'INPUT0'" in response.json()["error"]


def test_header_length_larger_than_body(http: httpx.Client) -> None:
    body = json.dumps(_simple_body()).encode()
    response = http.post(
        "/v2/models/simple/infer",
        content=body,
        headers={"Inference-Header-Content-Length": str(len(body) + 100)},
    )
    assert response.status_code == 400
    assert "inference header size should be in range" in response.json()["error"]


def test_body_over_limit(http: httpx.Client) -> None:
    response = http.post("/v2/models/simple/infer", content=b"x" * 5000)
    assert response.status_code == 413
    assert "exceeds the limit of 4096 bytes" in response.json()["error"]
    # A gzip bomb is caught after decompression too.
    bomb = gzip.compress(b" " * 100_000)
    response = http.post(
        "/v2/models/simple/infer", content=bomb, headers={"Content-Encoding": "gzip"}
    )
    assert response.status_code == 413


def test_gzip_request_body(http: httpx.Client) -> None:
    body = gzip.compress(json.dumps(_simple_body()).encode())
    response = http.post(
        "/v2/models/simple/infer", content=body, headers={"Content-Encoding": "gzip"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["outputs"][0]["data"] == [2] * 16


def test_model_not_ready_after_unload(repository_copy: object) -> None:
    with (
        ServerThread(settings_for(repository_copy)) as srv,
        httpx.Client(  # type: ignore[arg-type]
            base_url=f"http://{srv.http}"
        ) as http,
    ):
        assert http.post("/v2/repository/models/simple/unload").status_code == 200
        response = http.post("/v2/models/simple/infer", json=_simple_body())
        assert response.status_code == 404
        assert "'simple' has no available versions" in response.json()["error"]
        ready = http.get("/v2/models/simple/ready")
        assert ready.status_code == 400 and ready.json()["error"] == "Model version not ready"
        assert http.post("/v2/repository/models/simple/load").status_code == 200
        assert http.post("/v2/models/simple/infer", json=_simple_body()).status_code == 200
