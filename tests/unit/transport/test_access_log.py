"""One access-log line per inference, with the outcome named the transport's way."""

from __future__ import annotations

import asyncio
import logging

import numpy as np
import pytest
from opentelemetry import trace

from mlinfer.core.errors import ModelNotFoundError
from mlinfer.core.types import InferRequest, InferResponse, Tensor
from mlinfer.dataplane import CACHE_HIT_PARAMETER
from mlinfer.transport.access_log import AccessLog, SpanInfo, StatusNames

STATUSES = StatusNames(
    ok="OK",
    internal="INTERNAL",
    cancelled="CANCELLED",
    error=lambda e: e.status.name,
    span_attribute="test.status",
    span_value=len,
)
SPAN = (trace.NoOpTracer(), SpanInfo("test"), {})
LOGGER = "tests.access"


@pytest.fixture
def log(caplog: pytest.LogCaptureFixture) -> AccessLog:
    caplog.set_level(logging.INFO, logger=LOGGER)
    return AccessLog("test", STATUSES, enabled=True, logger=logging.getLogger(LOGGER))


def _lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    fields = ("protocol", "request_id", "model", "version", "status", "cache_hit", "priority")
    return [
        {f: getattr(r, f) for f in (*fields, "identity") if hasattr(r, f)}
        for r in caplog.records
        if r.name == LOGGER
    ]


def test_served_request(log: AccessLog, caplog: pytest.LogCaptureFixture) -> None:
    tensor = Tensor("x", "INT32", (1,), np.zeros(1, np.int32))
    with log.entry(*SPAN, "m", "", "") as entry:
        entry.identity = "camera-7"
        entry.request = InferRequest("m", [tensor], id="r-1", priority=2)
        entry.response = InferResponse("m", "3", [], parameters={CACHE_HIT_PARAMETER: True})
    (line,) = _lines(caplog)
    assert line == {
        "protocol": "test",
        "request_id": "r-1",
        "model": "m",
        "version": "3",
        "status": "OK",
        "cache_hit": True,
        "priority": 2,
        "identity": "camera-7",
    }


def test_outcomes(log: AccessLog, caplog: pytest.LogCaptureFixture) -> None:
    for exc in (ModelNotFoundError("nope"), RuntimeError("bug"), asyncio.CancelledError()):
        with pytest.raises(type(exc)), log.entry(*SPAN, "m", "2", "given-id"):
            raise exc
    lines = _lines(caplog)
    assert [line["status"] for line in lines] == ["NOT_FOUND", "INTERNAL", "CANCELLED"]
    # Before the request is decoded: the requested version and the transport's request id.
    assert all(line["version"] == "2" and line["request_id"] == "given-id" for line in lines)
    assert all("priority" not in line and line["cache_hit"] is False for line in lines)


def test_disabled_writes_nothing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    log = AccessLog("test", STATUSES, enabled=False, logger=logging.getLogger(LOGGER))
    with log.entry(*SPAN, "m"):
        pass
    assert _lines(caplog) == []
