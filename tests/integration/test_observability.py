"""Tracing structure, access logs and gateway metrics, observed on a real server."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from tritonclient.grpc import service_pb2 as pb
from tritonclient.grpc import service_pb2_grpc as pb_grpc

from mlinfer.observability.logs import ACCESS_LOGGER
from tests.support.servers import ServerThread, settings_for
from tests.support.tracing import SIMPLE_REQUEST, traced_server

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


@pytest.fixture(scope="module")
def traced(sample_repository: Path) -> Iterator[tuple[ServerThread, InMemorySpanExporter]]:
    with traced_server(settings_for(sample_repository)) as traced:
        yield traced


def _tree(exporter: InMemorySpanExporter) -> dict[str, object]:
    spans = [s for s in exporter.get_finished_spans() if f"{s.context.trace_id:032x}" == TRACE_ID]
    return {s.name: s for s in spans}


def _assert_structure(spans: dict[str, object], transport: str) -> None:
    by = spans
    root = by[transport]
    assert f"{root.parent.span_id:016x}" == PARENT_ID  # type: ignore[attr-defined]
    infer = by["mlinfer.infer"]
    assert infer.parent.span_id == root.context.span_id  # type: ignore[attr-defined]
    backend = by["backend.infer"]
    assert backend.parent.span_id == infer.context.span_id  # type: ignore[attr-defined]
    for name in ("batch.queue", "batch.execute"):
        assert by[name].parent.span_id == backend.context.span_id  # type: ignore[attr-defined]
    assert infer.attributes["mlinfer.model"] == "simple"  # type: ignore[attr-defined]


def test_rest_request_continues_client_trace(
    traced: tuple[ServerThread, InMemorySpanExporter],
) -> None:
    srv, exporter = traced
    exporter.clear()
    response = httpx.post(
        f"http://{srv.http}/v2/models/simple/infer",
        json=SIMPLE_REQUEST,
        headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"},
    )
    assert response.status_code == 200
    _assert_structure(_tree(exporter), "POST /v2/models/{model}/infer")


def test_grpc_request_continues_client_trace(
    traced: tuple[ServerThread, InMemorySpanExporter],
) -> None:
    srv, exporter = traced
    exporter.clear()
    request = pb.ModelInferRequest(model_name="simple")
    for name in ("INPUT0", "INPUT1"):
        t = request.inputs.add(name=name, datatype="INT32", shape=[1, 16])
        t.contents.int_contents.extend([1] * 16)
    with grpc.insecure_channel(srv.grpc) as channel:
        pb_grpc.GRPCInferenceServiceStub(channel).ModelInfer(
            request, metadata=(("traceparent", f"00-{TRACE_ID}-{PARENT_ID}-01"),)
        )
    _assert_structure(_tree(exporter), "inference.GRPCInferenceService/ModelInfer")


def test_access_log_line_and_gateway_metrics(
    traced: tuple[ServerThread, InMemorySpanExporter], caplog: pytest.LogCaptureFixture
) -> None:
    srv, _ = traced
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        body = {**SIMPLE_REQUEST, "id": "log-me"}
        assert (
            httpx.post(
                f"http://{srv.http}/v2/models/simple/infer", json=body, headers={"X-Priority": "1"}
            ).status_code
            == 200
        )
        assert (
            httpx.post(f"http://{srv.http}/v2/models/nope/infer", json=SIMPLE_REQUEST).status_code
            == 404
        )
    records = [r for r in caplog.records if r.name == ACCESS_LOGGER]
    ok = next(r for r in records if getattr(r, "request_id", None) == "log-me")
    assert (ok.model, ok.version, ok.status, ok.priority) == ("simple", "1", 200, 1)  # type: ignore[attr-defined]
    assert ok.latency_ms > 0 and ok.cache_hit is False  # type: ignore[attr-defined]
    assert any(getattr(r, "status", None) == 404 and r.model == "nope" for r in records)  # type: ignore[attr-defined]
    metrics = httpx.get(f"http://{srv.http}/metrics").text
    assert (
        'mlinfer_requests_total{protocol="http",route="/v2/models/{model}/infer",status="404"}'
    ) in metrics
    assert "mlinfer_admission_inflight" in metrics
    assert "mlinfer_request_duration_seconds_bucket" in metrics


def test_json_log_format(capfd: pytest.CaptureFixture[str]) -> None:
    from mlinfer.observability.logs import configure_logging, log_request

    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        configure_logging("INFO", "json")
        log_request(logging.getLogger(ACCESS_LOGGER), model="m", status=200, latency_ms=1.5)
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
    line = capfd.readouterr().err.strip().splitlines()[-1]
    record = json.loads(line)
    assert record["model"] == "m" and record["status"] == 200 and record["level"] == "INFO"


def test_security_headers(traced: tuple[ServerThread, InMemorySpanExporter]) -> None:
    srv, _ = traced
    response = httpx.get(f"http://{srv.http}/v2")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
