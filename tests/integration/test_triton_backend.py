"""mlinfer in front of a real Triton: outages, forwarding (priority, timeout, trace context),
model control, statistics and the CLI's ``--triton``.

These tests own a private Triton (they kill it, load and unload models), never the session's.
Its repository holds ``simple`` and ``digits`` (converted sample models) and ``gate``, a Python
model that holds its one instance until the test opens a gate file, so requests queue inside
Triton deterministically. Triton traces every request with OpenTelemetry to a local receiver.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import httpx
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families
from tritonclient.utils import InferenceServerException

from tests.layer.promql import used_metric_names
from tests.support.otlp import OtlpReceiver
from tests.support.ports import free_port
from tests.support.servers import ServerThread, settings_for, wait_until
from tests.support.triton.server_process import TritonServerProcess
from tests.support.triton.targets import (
    Gate,
    python_repository,
    require_triton,
    start_triton,
    triton_gauge,
    triton_trace_args,
    write_gate_model,
)

pytestmark = pytest.mark.triton

MODELS = ["simple", "digits", "gate"]


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gate]:
    gate = Gate(tmp_path_factory.mktemp("gate"))
    gate.close()
    yield gate
    gate.open()  # never leave a request of a failed test stuck in Triton


@pytest.fixture(scope="module")
def private_repository(
    sample_repository: Path, tmp_path_factory: pytest.TempPathFactory, gate: Gate
) -> Path:
    require_triton()
    repo = python_repository(
        sample_repository, tmp_path_factory.mktemp("private-triton") / "models", MODELS[:2]
    )
    write_gate_model(repo, gate.directory)
    return repo


@pytest.fixture(scope="module")
def otlp() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def triton(private_repository: Path, otlp: OtlpReceiver) -> Iterator[TritonServerProcess]:
    proc = start_triton(
        private_repository,
        private_repository.parent / "triton.log",
        model_control_mode="explicit",
        load_models=MODELS,
        extra_args=triton_trace_args(otlp),
    )
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def mlinfer(sample_repository: Path, triton: TritonServerProcess) -> Iterator[ServerThread]:
    settings = settings_for(sample_repository, triton_url=triton.grpc_url)
    with ServerThread(settings, rest=True, grpc=True) as srv:
        yield srv


@pytest.fixture
def closed_gate(gate: Gate) -> Iterator[Gate]:
    gate.close()
    yield gate
    gate.open()


def _simple_body(value: int = 1) -> dict[str, Any]:
    data = [value] * 16
    return {
        "inputs": [
            {"name": "INPUT0", "datatype": "INT32", "shape": [1, 16], "data": data},
            {"name": "INPUT1", "datatype": "INT32", "shape": [1, 16], "data": data},
        ]
    }


def _grpc_simple(url: str) -> Any:
    client = grpcclient.InferenceServerClient(url)
    try:
        return client.infer("simple", _simple_grpc_inputs())
    finally:
        client.close()


def _rest_infer_ok(http: str) -> bool:
    try:
        response = httpx.post(
            f"http://{http}/v2/models/simple/infer", json=_simple_body(), timeout=10
        )
    except httpx.HTTPError:
        return False
    return response.status_code == 200


def _grpc_infer_ok(url: str) -> bool:
    try:
        _grpc_simple(url)
    except InferenceServerException:
        return False
    return True


def _ready(http: str) -> int:
    return httpx.get(f"http://{http}/v2/health/ready", timeout=10).status_code


def _ensure_running(triton: TritonServerProcess) -> None:
    if not triton.running:
        triton.start()
        triton.wait_ready(models=MODELS, timeout_s=240)


# -- outages ---------------------------------------------------------------------------------


def test_triton_killed_then_restarted(triton: TritonServerProcess, mlinfer: ServerThread) -> None:
    assert _rest_infer_ok(mlinfer.http) and _grpc_infer_ok(mlinfer.grpc)
    try:
        triton.kill()
        unavailable = f"Triton at {triton.grpc_url} is unavailable"

        response = httpx.post(
            f"http://{mlinfer.http}/v2/models/simple/infer", json=_simple_body(), timeout=30
        )
        assert response.status_code == 503
        assert unavailable in response.json()["error"]
        assert response.headers["retry-after"] == "1"

        with pytest.raises(InferenceServerException) as info:
            _grpc_simple(mlinfer.grpc)
        assert info.value.status() == "StatusCode.UNAVAILABLE"
        assert unavailable in info.value.message()

        meta = httpx.get(f"http://{mlinfer.http}/v2/models/simple", timeout=30)
        assert meta.status_code == 503 and unavailable in meta.json()["error"]
        index = httpx.post(f"http://{mlinfer.http}/v2/repository/index", timeout=30)
        assert index.status_code == 503 and unavailable in index.json()["error"]
        assert _ready(mlinfer.http) == 400  # Triton answers "not ready" with 400
        client = grpcclient.InferenceServerClient(mlinfer.grpc)
        try:
            assert not client.is_server_ready()
            assert not client.is_server_live()
        finally:
            client.close()

        triton.start()  # same ports, same repository
        triton.wait_ready(models=MODELS, timeout_s=240)
        wait_until(lambda: _rest_infer_ok(mlinfer.http), "REST inference through mlinfer resumes")
        wait_until(lambda: _grpc_infer_ok(mlinfer.grpc), "gRPC inference through mlinfer resumes")
        assert _ready(mlinfer.http) == 200
    finally:
        _ensure_running(triton)


def test_mlinfer_starts_before_triton(sample_repository: Path, private_repository: Path) -> None:
    later = TritonServerProcess(
        private_repository,
        model_control_mode="explicit",
        load_models=["simple"],
        log_path=private_repository.parent / "later.log",
    )
    settings = settings_for(sample_repository, triton_url=later.grpc_url)
    with ServerThread(settings, rest=True, grpc=True) as srv:
        assert _ready(srv.http) == 400
        response = httpx.post(
            f"http://{srv.http}/v2/models/simple/infer", json=_simple_body(), timeout=30
        )
        assert response.status_code == 503
        assert f"Triton at {later.grpc_url} is unavailable" in response.json()["error"]
        assert _grpc_health(srv.grpc) == health_pb2.HealthCheckResponse.NOT_SERVING
        later.start()
        try:
            later.wait_ready(models=["simple"], timeout_s=240)
            wait_until(lambda: _ready(srv.http) == 200, "mlinfer ready once Triton is")
            assert _rest_infer_ok(srv.http)
            # gRPC health follows readiness too (it was fixed at its start-up value).
            serving = health_pb2.HealthCheckResponse.SERVING
            wait_until(lambda: _grpc_health(srv.grpc) == serving, "gRPC health SERVING")
        finally:
            later.stop()
        not_serving = health_pb2.HealthCheckResponse.NOT_SERVING
        wait_until(lambda: _grpc_health(srv.grpc) == not_serving, "gRPC health NOT_SERVING")


def _grpc_health(url: str) -> int:
    with grpc.insecure_channel(url) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=""), timeout=10
        )
        return int(reply.status)


# -- forwarding ------------------------------------------------------------------------------


def _gate_request(tag: int) -> list[grpcclient.InferInput]:
    tensor = grpcclient.InferInput("INPUT0", [1, 1], "INT32")
    tensor.set_data_from_numpy(np.array([[tag]], np.int32))
    return [tensor]


def _grpc_gate(url: str, tag: int, **kwargs: Any) -> int:
    client = grpcclient.InferenceServerClient(url)
    try:
        return int(client.infer("gate", _gate_request(tag), **kwargs).as_numpy("OUTPUT0")[0][0])
    finally:
        client.close()


def _rest_gate(url: str, tag: int, **parameters: Any) -> httpx.Response:
    body = {
        "inputs": [{"name": "INPUT0", "datatype": "INT32", "shape": [1, 1], "data": [tag]}],
        "parameters": parameters,
    }
    return httpx.post(f"http://{url}/v2/models/gate/infer", json=body, timeout=120)


def _queued(triton: TritonServerProcess) -> float | None:
    return triton_gauge(triton, "nv_inference_pending_request_count", "gate")


def _submit_in_order(
    pool: ThreadPoolExecutor,
    triton: TritonServerProcess,
    gate: Gate,
    calls: list[Callable[[], Any]],
) -> list[Future[Any]]:
    """Run ``calls[0]`` until it holds the gate, then queue the rest in Triton one by one."""
    futures = [pool.submit(calls[0])]
    wait_until(lambda: gate.started(0), "the first request holds the model instance")
    for queued, call in enumerate(calls[1:], start=1):
        futures.append(pool.submit(call))

        def in_queue(n: int = queued) -> bool:
            return _queued(triton) == n

        wait_until(in_queue, f"{queued} request(s) queued in Triton")
    return futures


def test_priority_reaches_triton(
    triton: TritonServerProcess, mlinfer: ServerThread, closed_gate: Gate
) -> None:
    """Queued in Triton as low, high (REST), high (gRPC): the high ones run first, in order."""
    with ThreadPoolExecutor(4) as pool:
        futures = _submit_in_order(
            pool,
            triton,
            closed_gate,
            [
                lambda: _grpc_gate(mlinfer.grpc, 0),
                lambda: _grpc_gate(mlinfer.grpc, 1, priority=2),
                lambda: _rest_gate(mlinfer.http, 2, priority=1),
                lambda: _grpc_gate(mlinfer.grpc, 3, priority=1),
            ],
        )
        closed_gate.open()
        results = [f.result(timeout=120) for f in futures]
    assert results[3] == 3 and results[2].status_code == 200
    assert closed_gate.order() == [0, 2, 3, 1]


def test_timeout_reaches_triton(
    triton: TritonServerProcess, mlinfer: ServerThread, closed_gate: Gate
) -> None:
    """A 1 us queue timeout expires in Triton's queue; mlinfer answers as Triton does."""
    with ThreadPoolExecutor(5) as pool:
        futures = _submit_in_order(
            pool,
            triton,
            closed_gate,
            [
                lambda: _grpc_gate(mlinfer.grpc, 0),
                lambda: _rest_gate(mlinfer.http, 1, timeout=1),
                lambda: _grpc_gate(mlinfer.grpc, 2, timeout=1),
                lambda: _rest_gate(triton.http_url, 3, timeout=1),  # Triton direct: reference
                lambda: _rest_gate(mlinfer.http, 4),
            ],
        )
        closed_gate.open()
        done: list[Any] = [f.exception(timeout=120) or f.result() for f in futures]
    rest_timeout, grpc_timeout, triton_timeout, untimed = done[1], done[2], done[3], done[4]
    assert triton_timeout.status_code == 503
    assert triton_timeout.json()["error"] == "Request timeout expired"
    assert rest_timeout.status_code == triton_timeout.status_code
    assert rest_timeout.json() == triton_timeout.json()
    assert isinstance(grpc_timeout, InferenceServerException)
    assert grpc_timeout.status() == "StatusCode.UNAVAILABLE"
    assert grpc_timeout.message() == "Request timeout expired"
    assert untimed.status_code == 200
    assert closed_gate.order() == [0, 4]


_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def _traceparent(span_id: str) -> str:
    return f"00-{_TRACE_ID[:-4]}{span_id[-4:]}-{span_id}-01"


def _trace_id(traceparent: str) -> str:
    return traceparent.split("-")[1]


def _simple_grpc_inputs() -> list[grpcclient.InferInput]:
    inputs = []
    for name in ("INPUT0", "INPUT1"):
        tensor = grpcclient.InferInput(name, [1, 16], "INT32")
        tensor.set_data_from_numpy(np.ones((1, 16), np.int32))
        inputs.append(tensor)
    return inputs




@pytest.fixture(scope="module")
def traced_mlinfer(
    sample_repository: Path, triton: TritonServerProcess, otlp: OtlpReceiver
) -> Iterator[ServerThread]:
    """mlinfer with its own OpenTelemetry tracing on (OTLP/HTTP to the same receiver)."""
    settings = settings_for(
        sample_repository,
        triton_url=triton.grpc_url,
        otel_exporter="otlp-http",
        otel_endpoint=otlp.url,
    )
    with ServerThread(settings, rest=True, grpc=True) as srv:
        yield srv


@pytest.mark.parametrize("protocol", ["grpc", "rest"])
@pytest.mark.parametrize(
    "tracing",
    ["off", "on"],
)
def test_traceparent_reaches_triton(
    request: pytest.FixtureRequest, otlp: OtlpReceiver, protocol: str, tracing: str
) -> None:
    """Triton's spans of a request sent through mlinfer belong to the client's trace.

    Triton 2.51's gRPC frontend ignores an incoming traceparent now and then (about 1 request
    in 25 here, Triton direct too; its HTTP frontend never does), so several requests are sent
    and one joined trace is proof enough.
    """
    srv: ServerThread = request.getfixturevalue("mlinfer" if tracing == "off" else "traced_mlinfer")
    prefix = f"00f067aa0ba9{'a' if tracing == 'on' else 'b'}{'1' if protocol == 'rest' else '2'}"
    headers = [_traceparent(f"{prefix}0{i}") for i in range(5)]
    for header in headers:
        if protocol == "rest":
            response = httpx.post(
                f"http://{srv.http}/v2/models/simple/infer",
                json=_simple_body(),
                headers={"traceparent": header},
                timeout=30,
            )
            assert response.status_code == 200
        else:
            client = grpcclient.InferenceServerClient(srv.grpc)
            try:
                client.infer("simple", _simple_grpc_inputs(), headers={"traceparent": header})
            finally:
                client.close()
    # Triton exports its spans in the order they end, one at a time: once the span of a later
    # request (sent to Triton's HTTP endpoint, which always keeps the trace) is in, those of
    # the requests above are too.
    marker = _traceparent(f"{prefix}ff")
    triton: TritonServerProcess = request.getfixturevalue("triton")
    assert _rest_triton_simple(triton, marker).status_code == 200
    wait_until(
        lambda: "InferRequest" in {s["name"] for s in otlp.spans_of_trace(_trace_id(marker))},
        "Triton exports the later request's spans",
    )
    joined = [h for h in headers if otlp.spans_of_trace(_trace_id(h))]
    assert joined, "no request sent through mlinfer joined the client's trace in Triton"


def _rest_triton_simple(triton: TritonServerProcess, traceparent: str) -> httpx.Response:
    return httpx.post(
        f"http://{triton.http_url}/v2/models/simple/infer",
        json=_simple_body(),
        headers={"traceparent": traceparent},
        timeout=30,
    )


# -- model control, statistics, metrics ----------------------------------------------------


def _triton_index(triton: TritonServerProcess) -> dict[str, str]:
    client = httpclient.InferenceServerClient(triton.http_url)
    try:
        return {m["name"]: m.get("state", "") for m in client.get_model_repository_index()}
    finally:
        client.close()


def test_load_and_unload_through_mlinfer(
    triton: TritonServerProcess, mlinfer: ServerThread
) -> None:
    base = f"http://{mlinfer.http}/v2"
    pixels = np.zeros((17, 64), np.float32).tolist()
    digits_17 = {"inputs": [{"name": "pixels", "datatype": "FP32", "shape": [17, 64],
                             "data": pixels}]}  # fmt: skip
    assert httpx.post(f"{base}/models/digits/infer", json=digits_17).status_code == 200
    config = {**_digits_config(triton), "max_batch_size": 16}
    config["dynamic_batching"].pop("preferred_batch_size", None)  # Triton filled in [64]
    config_text = json.dumps(config)
    try:
        assert httpx.post(f"{base}/repository/models/digits/unload").status_code == 200
        # Triton unloads in the background (state UNLOADING first), as it does for its clients.
        wait_until(lambda: _triton_index(triton)["digits"] == "UNAVAILABLE", "Triton unloaded")
        index = httpx.post(f"{base}/repository/index").json()
        assert {"name": "digits", "version": "1", "state": "UNAVAILABLE", "reason": "unloaded"} in (
            index
        )
        assert httpx.get(f"{base}/models/digits/ready").status_code != 200
        # Inference on the unloaded model: mlinfer answers as Triton does.
        ours = httpx.post(f"{base}/models/digits/infer", json=digits_17)
        theirs = httpx.post(f"http://{triton.http_url}/v2/models/digits/infer", json=digits_17)
        assert (ours.status_code, ours.json()) == (theirs.status_code, theirs.json())

        # Load with a config override: Triton serves it and mlinfer validates against it.
        loaded = httpx.post(
            f"{base}/repository/models/digits/load",
            json={"parameters": {"config": config_text}},
            timeout=120,
        )
        assert loaded.status_code == 200, loaded.text
        assert _triton_index(triton)["digits"] == "READY"
        assert httpx.get(f"{base}/models/digits/config").json()["max_batch_size"] == 16
        too_big = httpx.post(f"{base}/models/digits/infer", json=digits_17)
        assert too_big.status_code == 400
        assert "batch-size must be <= 16" in too_big.json()["error"]
        # Triton keeps an override across a plain reload (the repository did not change).
        assert httpx.post(f"{base}/repository/models/digits/load", timeout=120).status_code == 200
        assert httpx.get(f"{base}/models/digits/config").json()["max_batch_size"] == 16
    finally:
        # Back to the repository's config: unload (Triton finishes it in the background), load.
        httpx.post(f"{base}/repository/models/digits/unload", timeout=120)
        wait_until(lambda: _triton_index(triton)["digits"] == "UNAVAILABLE", "Triton unloaded")
        reload = httpx.post(f"{base}/repository/models/digits/load", timeout=120)
        assert reload.status_code == 200, reload.text
    assert httpx.get(f"{base}/models/digits/config").json()["max_batch_size"] == 64
    assert httpx.post(f"{base}/models/digits/infer", json=digits_17).status_code == 200


def _digits_config(triton: TritonServerProcess) -> dict[str, Any]:
    client = httpclient.InferenceServerClient(triton.http_url)
    try:
        config: dict[str, Any] = client.get_model_config("digits")
        return config
    finally:
        client.close()


def test_statistics_and_metrics_are_tritons(
    triton: TritonServerProcess, mlinfer: ServerThread
) -> None:
    assert _rest_infer_ok(mlinfer.http)
    ours = httpx.get(f"http://{mlinfer.http}/v2/models/simple/stats").json()
    theirs = httpx.get(f"http://{triton.http_url}/v2/models/simple/stats").json()
    assert ours == theirs  # the same document, zero fields and integer types included
    all_stats = httpx.get(f"http://{mlinfer.http}/v2/models/stats").json()["model_stats"]
    assert {s["name"] for s in all_stats} >= set(MODELS)
    success = theirs["model_stats"][0]["inference_stats"]["success"]["count"]
    # Triton's own /metrics is the one source of its nv_inference_* series; the front
    # re-exported them, and dashboards summing over both jobs counted every request twice.
    assert triton_gauge(triton, "nv_inference_request_success", "simple") == success
    metrics = httpx.get(f"http://{mlinfer.http}/metrics").text
    assert "nv_inference_request_success{" not in metrics


def test_front_and_triton_export_no_series_twice(
    triton: TritonServerProcess, mlinfer: ServerThread
) -> None:
    """Every series the dashboards and alerts read has one source when both are scraped."""
    assert _rest_infer_ok(mlinfer.http)
    used = set(used_metric_names())
    front = _series(httpx.get(f"http://{mlinfer.http}/metrics").text, used)
    behind = _series(httpx.get(triton.metrics_url).text, used)
    assert behind, "Triton exported none of the series the dashboards use"
    assert sorted(front & behind) == []


def test_help_texts_are_tritons(triton: TritonServerProcess, server: ServerThread) -> None:
    """The embedded engine's nv_* families describe themselves in Triton's words."""
    assert _rest_infer_ok(server.http)
    assert _rest_infer_ok(triton.http_url)
    ours = _help_texts(httpx.get(f"http://{server.http}/metrics").text)
    theirs = _help_texts(httpx.get(triton.metrics_url).text)
    common = set(ours) & set(theirs)
    assert len(common) >= 10, sorted(common)
    assert {n: ours[n] for n in common} == {n: theirs[n] for n in common}


def _help_texts(text: str) -> dict[str, str]:
    return {
        family.name: family.documentation
        for family in text_string_to_metric_families(text)
        if family.name.startswith("nv_")
    }


def _series(text: str, names: set[str]) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    return {
        (sample.name, tuple(sorted(sample.labels.items())))
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name in names or family.name in names
    }


# -- the CLI ---------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["serve", "gateway", "grpc"])
def test_cli_fronts_triton(triton: TritonServerProcess, command: str) -> None:
    http_port, grpc_port = free_port(), free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlinfer",
            command,
            "--host",
            "127.0.0.1",
            "--http-port",
            str(http_port),
            "--grpc-port",
            str(grpc_port),
            "--triton",
            triton.grpc_url,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "MLINFER_LOG_LEVEL": "WARNING", "MLINFER_AUTH_MODE": "disabled"},
    )
    http, grpc = f"127.0.0.1:{http_port}", f"127.0.0.1:{grpc_port}"
    has_rest, has_grpc = command != "grpc", command != "gateway"

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"mlinfer {command} exited: {proc.communicate()[0]}")
        return _rest_infer_ok(http) if has_rest else _grpc_infer_ok(grpc)

    try:
        wait_until(up, f"mlinfer {command} --triton serves")
        if has_grpc:
            result = _grpc_simple(grpc)
            np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), np.full((1, 16), 2))
        if has_rest:
            body = httpx.post(f"http://{http}/v2/models/simple/infer", json=_simple_body(3))
            outputs = {o["name"]: o["data"] for o in body.json()["outputs"]}
            assert outputs["OUTPUT0"] == [6] * 16
    finally:
        proc.terminate()
        output = proc.communicate(timeout=60)[0]
    assert "mlinfer ready (triton engine" in output, output


def test_cli_starts_before_triton(private_repository: Path) -> None:
    later = TritonServerProcess(
        private_repository,
        model_control_mode="explicit",
        load_models=["simple"],
        log_path=private_repository.parent / "later-cli.log",
    )
    http = f"127.0.0.1:{free_port()}"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlinfer",
            "serve",
            "--host",
            "127.0.0.1",
            "--http-port",
            http.rsplit(":", 1)[1],
            "--grpc-port",
            str(free_port()),
            "--triton",
            later.grpc_url,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "MLINFER_LOG_LEVEL": "WARNING", "MLINFER_AUTH_MODE": "disabled"},
    )

    def ready_is(status: int) -> Callable[[], bool]:
        def check() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"mlinfer serve exited: {proc.communicate()[0][-2000:]}")
            try:
                return _ready(http) == status
            except httpx.HTTPError:
                return False

        return check

    try:
        wait_until(ready_is(400), "mlinfer serve up, not ready, before Triton")
        later.start()
        later.wait_ready(models=["simple"], timeout_s=240)
        wait_until(ready_is(200), "mlinfer serve ready once Triton is")
        assert _rest_infer_ok(http)
    finally:
        later.stop()
        if proc.poll() is None:
            proc.terminate()
        proc.communicate(timeout=60)
