"""An exception no layer expected: a Triton-shaped 500 / gRPC INTERNAL with a request id,
logged with its traceback, and the server (and the very connection) keeps serving."""

from __future__ import annotations

import http.client
import json
import logging
import queue
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from mlinfer.observability.logs import ACCESS_LOGGER
from tests.support.raising_backend import RAISE_ID, SECRET_DETAIL, raising_backend
from tests.support.servers import ServerThread, settings_for

FAILURES_LOGGER = "mlinfer.transport.failures"
MESSAGE = re.compile(r"^internal error \(request id ([0-9a-f]{32})\)$")
ONES = [1] * 16


@pytest.fixture(scope="module")
def server(sample_repository: Path) -> Iterator[ServerThread]:
    settings = settings_for(sample_repository, startup_models=["simple"])
    with ServerThread(settings, grpc=True, backend_factory=raising_backend) as srv:
        yield srv


def _body(request_id: str) -> bytes:
    tensor = {"datatype": "INT32", "shape": [1, 16], "data": ONES}
    inputs = [{"name": "INPUT0", **tensor}, {"name": "INPUT1", **tensor}]
    return json.dumps({"id": request_id, "inputs": inputs}).encode()


def _post(conn: http.client.HTTPConnection, request_id: str) -> http.client.HTTPResponse:
    conn.request(
        "POST",
        "/v2/models/simple/infer",
        _body(request_id),
        {"Content-Type": "application/json"},
    )
    return conn.getresponse()


def _logged_failure(caplog: pytest.LogCaptureFixture, request_id: str) -> logging.LogRecord:
    records = [r for r in caplog.records if r.name == FAILURES_LOGGER]
    matching = [r for r in records if getattr(r, "request_id", None) == request_id]
    assert len(matching) == 1, [r.getMessage() for r in records]
    return matching[0]


def _access_statuses(caplog: pytest.LogCaptureFixture, protocol: str) -> list[Any]:
    return [
        getattr(r, "status", None)
        for r in caplog.records
        if r.name == ACCESS_LOGGER and getattr(r, "protocol", None) == protocol
    ]


def _metrics(server: ServerThread) -> str:
    return httpx.get(f"http://{server.http}/metrics").text


def test_rest_json_500_logged_and_connection_kept(
    server: ServerThread, caplog: pytest.LogCaptureFixture
) -> None:
    host, port = server.http.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
            failed = _post(conn, RAISE_ID)
            body = failed.read()
            socket_after_error = conn.sock
            served = _post(conn, "after-the-error")
            served_body = json.loads(served.read())
        assert failed.status == 500
        assert failed.getheader("content-type") == "application/json"
        assert failed.getheader("x-content-type-options") == "nosniff"  # usual headers too
        error = json.loads(body)
        assert list(error) == ["error"]
        match = MESSAGE.match(error["error"])
        assert match, error
        assert SECRET_DETAIL.encode() not in body
        # The same keep-alive connection answered the next request.
        assert not failed.will_close
        assert socket_after_error is not None and conn.sock is socket_after_error
        assert served.status == 200 and served_body["outputs"][0]["data"] == [2] * 16
    finally:
        conn.close()
    record = _logged_failure(caplog, match.group(1))
    assert record.levelno == logging.ERROR and record.exc_info is not None
    assert SECRET_DETAIL in str(record.exc_info[1])  # the operator sees the cause
    assert "POST /v2/models/simple/infer" in record.getMessage()
    assert _access_statuses(caplog, "http") == [500, 200]
    assert 'protocol="http",route="/v2/models/{model}/infer",status="500"} 1.0' in _metrics(server)


def _grpc_inputs() -> list[grpcclient.InferInput]:
    inputs = []
    for name in ("INPUT0", "INPUT1"):
        tensor = grpcclient.InferInput(name, [1, 16], "INT32")
        tensor.set_data_from_numpy(np.ones((1, 16), np.int32))
        inputs.append(tensor)
    return inputs


def test_grpc_internal_logged_and_channel_keeps_serving(
    server: ServerThread, caplog: pytest.LogCaptureFixture
) -> None:
    client = grpcclient.InferenceServerClient(server.grpc)
    try:
        with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
            with pytest.raises(InferenceServerException) as info:
                client.infer("simple", _grpc_inputs(), request_id=RAISE_ID)
            result = client.infer("simple", _grpc_inputs(), request_id="after-the-error")
    finally:
        client.close()
    assert info.value.status() == "StatusCode.INTERNAL"
    match = MESSAGE.match(info.value.message())
    assert match, info.value.message()
    np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), np.full((1, 16), 2, np.int32))
    record = _logged_failure(caplog, match.group(1))
    assert record.exc_info is not None and SECRET_DETAIL in str(record.exc_info[1])
    # The access log agrees with REST: an internal error, not OK.
    assert _access_statuses(caplog, "grpc") == ["INTERNAL", "OK"]
    assert 'protocol="grpc",route="ModelInfer",status="INTERNAL"} 1.0' in _metrics(server)


def test_grpc_stream_reports_in_band_and_stays_open(
    server: ServerThread, caplog: pytest.LogCaptureFixture
) -> None:
    client = grpcclient.InferenceServerClient(server.grpc)
    results: queue.Queue[tuple[Any, Any]] = queue.Queue()
    client.start_stream(callback=lambda result, error: results.put((result, error)))
    try:
        client.async_stream_infer("simple", _grpc_inputs(), request_id=RAISE_ID)
        _, error = results.get(timeout=30)
        client.async_stream_infer("simple", _grpc_inputs(), request_id="after-the-error")
        result, second_error = results.get(timeout=30)
    finally:
        client.stop_stream()
        client.close()
    assert isinstance(error, InferenceServerException)
    match = MESSAGE.match(error.message())
    assert match, error.message()
    assert second_error is None and result.get_response().id == "after-the-error"
    _logged_failure(caplog, match.group(1))
