"""``mlinfer gateway --workers N`` in front of a real Triton: N processes share one port, the
kernel spreads connections over them, every one answers inference, and SIGTERM to the
supervisor stops them all. Without Triton the option is refused with the reason."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import tritonclient.http as httpclient

from tests.support.ports import free_port
from tests.support.servers import cli_command, wait_until
from tests.support.triton.server_process import TritonServerProcess

psutil = pytest.importorskip("psutil")

CONNECTIONS = 32  # all on one of 2 workers by chance: 2 * 2**-32


def _env() -> dict[str, str]:
    return {**os.environ, "MLINFER_AUTH_MODE": "disabled", "MLINFER_LOG_LEVEL": "WARNING"}


def test_workers_without_triton_are_refused(sample_repository: Path) -> None:
    run = subprocess.run(
        cli_command("gateway", "--model-repository", str(sample_repository), "--workers", "2"),
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2
    assert "--workers 2 needs a Triton backend (--triton HOST:PORT)" in run.stderr


@pytest.fixture
def workers(triton_server: TritonServerProcess) -> Iterator[tuple[subprocess.Popen[str], int]]:
    port = free_port()
    args = ["gateway", "--triton", triton_server.grpc_url, "--host", "127.0.0.1"]
    proc = subprocess.Popen(
        cli_command(*args, "--http-port", str(port), "--workers", "2"),
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    def ready() -> bool:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        children = psutil.Process(proc.pid).children()
        listening = [
            c for c in children
            if any(s.status == psutil.CONN_LISTEN and s.laddr.port == port
                   for s in c.net_connections("tcp"))
        ]  # fmt: skip
        return len(listening) == 2

    try:
        wait_until(ready, "both workers listening on the shared port")
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.mark.triton
def test_two_workers_share_the_port_and_both_serve(
    workers: tuple[subprocess.Popen[str], int],
) -> None:
    proc, port = workers
    pids = {c.pid for c in psutil.Process(proc.pid).children()}
    clients = [httpx.Client(base_url=f"http://127.0.0.1:{port}") for _ in range(CONNECTIONS)]
    try:
        for client in clients:  # one request each: a connection per client, kept open
            assert client.get("/v2/health/ready").status_code == 200
        serving = {
            pid for pid in pids
            if any(c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port
                   for c in psutil.Process(pid).net_connections("tcp"))
        }  # fmt: skip
        assert serving == pids, "the kernel gave every connection to one worker"
    finally:
        for client in clients:
            client.close()
    triton = httpclient.InferenceServerClient(f"127.0.0.1:{port}")
    a = np.arange(16, dtype=np.int32).reshape(1, 16)
    inputs = [httpclient.InferInput(n, [1, 16], "INT32") for n in ("INPUT0", "INPUT1")]
    for tensor in inputs:
        tensor.set_data_from_numpy(a, binary_data=True)
    for _ in range(8):
        result = triton.infer("simple", inputs)
        assert result.as_numpy("OUTPUT0").tolist() == (a + a).tolist()
    triton.close()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    assert not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"
                   for pid in pids)  # fmt: skip
