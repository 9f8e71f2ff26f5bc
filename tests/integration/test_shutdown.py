"""A stop under load, as systemd and Kubernetes do it (SIGTERM) or a terminal does (SIGINT):
in-flight requests finish, spans are flushed, the process exits 0."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
import tritonclient.grpc as grpcclient

from mlinfer.samples.writer import write_model
from tests.support.otlp import OtlpReceiver
from tests.support.ports import free_port
from tests.support.servers import cli_command, wait_until
from tests.support.slow_model import slow_model

IN_FLIGHT = 6


@pytest.fixture
def otlp() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def slow_repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("slow-repo")
    # About a second per request, so later requests are still queued when the signal goes out.
    write_model(slow_model(iterations=400_000), repo)
    return repo


def _start(command: str, repo: Path, otlp_url: str) -> tuple[subprocess.Popen[str], int, int]:
    http_port, grpc_port = free_port(), free_port()
    proc = subprocess.Popen(
        cli_command(
            command,
            "--host",
            "127.0.0.1",
            "--http-port",
            str(http_port),
            "--grpc-port",
            str(grpc_port),
            "--model-repository",
            str(repo),
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={
            **os.environ,
            "MLINFER_LOG_LEVEL": "WARNING",
            "MLINFER_AUTH_MODE": "disabled",
            "MLINFER_OTEL_EXPORTER": "otlp-http",
            "MLINFER_OTEL_ENDPOINT": otlp_url,
            "MLINFER_SHUTDOWN_GRACE_SECONDS": "60",
        },
    )
    return proc, http_port, grpc_port


def _slow_model_series(metrics_url: str, family: str) -> float:
    try:
        text = httpx.get(metrics_url, timeout=5).text
    except httpx.HTTPError:
        return 0.0
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(f'{family}{{model="slow"')
    )


def _arrived(metrics_url: str) -> tuple[float, float]:
    """(requests the server holds: queued + executing, requests it has seen: those + done)."""
    pending = _slow_model_series(metrics_url, "nv_inference_pending_request_count")
    done = _slow_model_series(metrics_url, "nv_inference_request_success")
    return pending, pending + done


def _rest_infer(port: int) -> int:
    body = {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 4], "data": [1] * 4}]}
    url = f"http://127.0.0.1:{port}/v2/models/slow/infer"
    return httpx.post(url, json=body, timeout=120).status_code


def _grpc_infer(port: int) -> int:
    with grpcclient.InferenceServerClient(f"127.0.0.1:{port}") as client:
        tensor = grpcclient.InferInput("INPUT0", [1, 4], "FP32")
        tensor.set_data_from_numpy(np.ones((1, 4), np.float32))
        result = client.infer("slow", [tensor], client_timeout=120)
        return 200 if result.as_numpy("OUTPUT0") is not None else 500


def _failed(futures: list[Future[int]]) -> list[object]:
    """What the finished requests that did not succeed ended with (an error or a status)."""
    ended = [f.exception() or f.result() for f in futures if f.done()]
    return [e for e in ended if e != 200]


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/v2/health/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.parametrize(
    ("command", "transport", "sig"),
    [
        ("serve", "rest", signal.SIGTERM),
        ("serve", "grpc", signal.SIGTERM),
        ("gateway", "rest", signal.SIGTERM),
        ("serve", "rest", signal.SIGINT),
    ],
)
def test_stop_finishes_in_flight_requests_flushes_spans_and_exits_0(
    command: str,
    transport: str,
    sig: signal.Signals,
    slow_repository: Path,
    otlp: OtlpReceiver,
) -> None:
    proc, http_port, grpc_port = _start(command, slow_repository, otlp.url)
    try:
        wait_until(lambda: proc.poll() is not None or _ready(http_port), "server ready")
        assert proc.poll() is None, proc.communicate()[0]
        infer = _rest_infer if transport == "rest" else _grpc_infer
        port = http_port if transport == "rest" else grpc_port
        with ThreadPoolExecutor(IN_FLIGHT) as pool:
            futures: list[Future[int]] = [pool.submit(infer, port) for _ in range(IN_FLIGHT)]
            # The slow model runs one request at a time: the rest wait in its queue. Wait
            # until all have arrived (a loaded machine may already have finished the first).
            metrics = f"http://127.0.0.1:{http_port}/metrics"
            # A failed request never joins the count: stop on one and say how it failed.
            wait_until(
                lambda: _arrived(metrics)[1] >= IN_FLIGHT or bool(_failed(futures)),
                "all requests arrived",
            )
            assert not _failed(futures), f"requests failed before the signal: {_failed(futures)}"
            held_at_signal = _arrived(metrics)[0]
            proc.send_signal(sig)
            statuses = [f.result() for f in futures]
        output, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert held_at_signal >= 1, "every request finished before the stop: nothing was in flight"
    assert statuses == [200] * IN_FLIGHT, output
    assert proc.returncode == 0, output
    assert otlp.span_names().count("mlinfer.infer") == IN_FLIGHT, otlp.span_names()
