"""What an operator sees of requests that fail, and how a request is followed across logs and
traces: spans for failures before decoding, error messages on the access line, request ids."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from tritonclient.grpc import service_pb2 as pb
from tritonclient.grpc import service_pb2_grpc as pb_grpc

from mlinfer.auth import issue_token
from mlinfer.observability.logs import ACCESS_LOGGER
from tests.support.servers import ServerThread, settings_for
from tests.support.tracing import SIMPLE_REQUEST, traced_server

SECRET = "s" * 40
TOKEN = issue_token(SECRET, "alice", ["infer", "models:read"], ttl_s=600)
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ROUTE = "POST /v2/models/{model}/infer"


@pytest.fixture(scope="module")
def traced(sample_repository: Path) -> Iterator[tuple[ServerThread, InMemorySpanExporter]]:
    with traced_server(
        settings_for(sample_repository, auth_mode="required", auth_jwt_secret=SECRET)
    ) as traced:
        yield traced


def _access_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == ACCESS_LOGGER]


def _server_spans(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.name == name]


@pytest.mark.parametrize(
    ("content", "headers", "status", "error"),
    [
        (b"{not json", AUTH, 400, "JSON"),
        (json.dumps(SIMPLE_REQUEST).encode(), {**AUTH, "X-Priority": "high"}, 400, "priority"),
        (json.dumps(SIMPLE_REQUEST).encode(), {}, 401, "credentials"),
        (json.dumps({"inputs": [SIMPLE_REQUEST["inputs"][0]]}).encode(), AUTH, 400, "INPUT1"),
    ],
    ids=["malformed-json", "bad-priority", "no-credentials", "missing-input"],
)
def test_a_rest_request_that_fails_early_leaves_a_span_and_logs_its_error(
    traced: tuple[ServerThread, InMemorySpanExporter],
    caplog: pytest.LogCaptureFixture,
    content: bytes,
    headers: dict[str, str],
    status: int,
    error: str,
) -> None:
    srv, exporter = traced
    exporter.clear()
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        response = httpx.post(
            f"http://{srv.http}/v2/models/simple/infer", content=content, headers=headers
        )
    assert response.status_code == status, response.text
    (span,) = _server_spans(exporter, ROUTE)
    assert span.attributes is not None
    assert span.attributes["http.response.status_code"] == status
    assert span.attributes["http.route"] == "/v2/models/{model}/infer"
    assert span.attributes["http.request.method"] == "POST"
    assert span.status.status_code == StatusCode.ERROR
    (line,) = _access_lines(caplog)
    assert line.status == status  # type: ignore[attr-defined]
    assert error.lower() in line.error.lower()  # type: ignore[attr-defined]
    assert line.code != "OK"  # type: ignore[attr-defined]
    assert all(TOKEN not in json.dumps(vars(r), default=str) for r in caplog.records)


def test_grpc_failure_leaves_a_span_logs_its_error_and_names_its_code(
    traced: tuple[ServerThread, InMemorySpanExporter], caplog: pytest.LogCaptureFixture
) -> None:
    srv, exporter = traced
    exporter.clear()
    request = pb.ModelInferRequest(model_name="simple")
    for name in ("INPUT0", "INPUT1"):
        t = request.inputs.add(name=name, datatype="INT32", shape=[1, 16])
        t.contents.int_contents.extend([1] * 3)  # 3 values for 16 elements
    with (
        caplog.at_level(logging.INFO, logger=ACCESS_LOGGER),
        grpc.insecure_channel(srv.grpc) as channel,
        pytest.raises(grpc.RpcError) as failure,
    ):
        pb_grpc.GRPCInferenceServiceStub(channel).ModelInfer(
            request, metadata=(("authorization", f"Bearer {TOKEN}"),)
        )
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    (span,) = _server_spans(exporter, "inference.GRPCInferenceService/ModelInfer")
    assert span.attributes is not None
    assert span.attributes["rpc.grpc.status_code"] == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert span.attributes["rpc.method"] == "ModelInfer"
    (line,) = _access_lines(caplog)
    assert line.status == "INVALID_ARGUMENT" and line.code == "INVALID_ARGUMENT"  # type: ignore[attr-defined]
    assert line.error  # type: ignore[attr-defined]
    metadata = dict(failure.value.trailing_metadata() or ())
    assert metadata["x-request-id"] == line.request_id  # type: ignore[attr-defined]


def test_every_answer_carries_a_request_id_that_the_log_and_trace_share(
    traced: tuple[ServerThread, InMemorySpanExporter], caplog: pytest.LogCaptureFixture
) -> None:
    srv, exporter = traced
    exporter.clear()
    url = f"http://{srv.http}/v2/models/simple/infer"
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        made = httpx.post(url, json=SIMPLE_REQUEST, headers=AUTH)
        given = httpx.post(url, json={**SIMPLE_REQUEST, "id": "frame-17"}, headers=AUTH)
        failed = httpx.post(
            f"http://{srv.http}/v2/models/nope/infer", json=SIMPLE_REQUEST, headers=AUTH
        )
        with grpc.insecure_channel(srv.grpc) as channel:
            request = pb.ModelInferRequest(model_name="simple")
            for name in ("INPUT0", "INPUT1"):
                t = request.inputs.add(name=name, datatype="INT32", shape=[1, 16])
                t.contents.int_contents.extend([1] * 16)
            _, call = pb_grpc.GRPCInferenceServiceStub(channel).ModelInfer.with_call(
                request, metadata=(("authorization", f"Bearer {TOKEN}"),)
            )
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])
    assert given.headers["x-request-id"] == "frame-17"
    assert failed.status_code == 404 and re.fullmatch(
        r"[0-9a-f]{32}", failed.headers["x-request-id"]
    )
    grpc_id = dict(call.trailing_metadata())["x-request-id"]
    lines = _access_lines(caplog)
    ids = [line.request_id for line in lines]  # type: ignore[attr-defined]
    assert ids == [
        made.headers["x-request-id"],
        "frame-17",
        failed.headers["x-request-id"],
        grpc_id,
    ]
    traces = {f"{s.context.trace_id:032x}" for s in exporter.get_finished_spans()}
    assert all(line.trace_id in traces for line in lines)  # type: ignore[attr-defined]


def test_span_attributes_are_typed_and_present_on_failures(
    traced: tuple[ServerThread, InMemorySpanExporter],
) -> None:
    srv, exporter = traced
    exporter.clear()
    wrong_shape = {
        "inputs": [
            {"name": n, "datatype": "INT32", "shape": [1, 8], "data": [1] * 8}
            for n in ("INPUT0", "INPUT1")
        ]
    }
    url = f"http://{srv.http}/v2/models/simple/infer"
    assert httpx.post(url, json=wrong_shape, headers=AUTH).status_code == 400
    (infer,) = _server_spans(exporter, "mlinfer.infer")
    assert infer.attributes is not None and infer.attributes["mlinfer.model_version"] == "1"

    def send(seed: int) -> int:  # distinct inputs: image_cnn caches responses
        image = {
            "name": "image",
            "datatype": "FP32",
            "shape": [1, 3, 32, 32],
            "data": [seed] * 3072,
        }
        body: dict[str, Any] = {"inputs": [image], "id": f"b{seed}"}
        return httpx.post(
            f"http://{srv.http}/v2/models/image_cnn/infer", json=body, headers=AUTH
        ).status_code

    exporter.clear()
    with ThreadPoolExecutor(6) as pool:
        assert list(pool.map(send, range(6))) == [200] * 6
    executes = _server_spans(exporter, "batch.execute")
    assert len(executes) == 6
    batches: dict[object, list[ReadableSpan]] = {}
    for span in executes:
        batches.setdefault((span.attributes or {})["mlinfer.batch_id"], []).append(span)
    for members in batches.values():
        attributes = [dict(m.attributes or {}) for m in members]
        assert {a["mlinfer.batch_requests"] for a in attributes} == {len(members)}
        assert {a["mlinfer.batch_size"] for a in attributes} == {
            sum(int(a["mlinfer.request_rows"]) for a in attributes)
        }
        assert all(a["mlinfer.model_version"] == "1" for a in attributes)
