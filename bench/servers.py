"""Servers under test for the benchmark driver: ``mlinfer serve`` as a child process, and the
memory (RSS) of a process tree."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

from bench.host import psutil_module
from tests.support.triton.server_process import free_ports


class ServerStartError(RuntimeError):
    pass


def _status(url: str, timeout_s: float = 2.0) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, OSError):
        return None


def wait_http_ready(
    base: str,
    models: Sequence[str],
    proc: subprocess.Popen[bytes] | None,
    timeout_s: float,
    what: str,
    log: Path | None = None,
) -> None:
    """Poll ``/v2/health/ready`` and each model's ready endpoint until all answer 200."""
    deadline = time.monotonic() + timeout_s
    while True:
        if proc is not None and proc.poll() is not None:
            raise ServerStartError(f"{what} exited with {proc.returncode}{_tail(log)}")
        ready = _status(f"{base}/v2/health/ready") == 200 and all(
            _status(f"{base}/v2/models/{m}/ready") == 200 for m in models if m != "*"
        )
        if ready:
            return
        if time.monotonic() > deadline:
            raise ServerStartError(f"{what} not ready after {timeout_s:.0f}s{_tail(log)}")
        time.sleep(0.1)


def _tail(log: Path | None, lines: int = 20) -> str:
    if log is None or not log.exists():
        return ""
    text = log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
    return "; log:\n" + "\n".join(text)


# Benchmarks measure the inference path against a Triton that has no authentication: run
# mlinfer without it too (everything else at its defaults).
SERVER_ENV = {"MLINFER_AUTH_MODE": "disabled", "PYTHONUNBUFFERED": "1"}


class MlinferProcess:
    """``mlinfer serve`` on free loopback ports, output to ``log``."""

    def __init__(
        self,
        repository: Path,
        models: Sequence[str],
        log: Path,
        extra_args: Sequence[str] = (),
        ready_timeout_s: float = 300.0,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.env = dict(env or {})
        self.repository = repository
        self.models = list(models)
        self.log = log
        self.http_port, self.grpc_port = free_ports(2)
        self.extra_args = list(extra_args)
        self.ready_timeout_s = ready_timeout_s
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def command(self) -> list[str]:
        cmd = [
            sys.executable,
            "-m",
            "mlinfer",
            "serve",
            "--host",
            "127.0.0.1",
            "--http-port",
            str(self.http_port),
            "--grpc-port",
            str(self.grpc_port),
            "--model-repository",
            str(self.repository),
            "--log-level",
            "WARNING",
        ]
        for model in self.models:
            cmd += ["--load-model", model]
        return cmd + self.extra_args

    @property
    def display_command(self) -> str:
        """The command as a user would type it (env, ``mlinfer`` instead of python -m)."""
        env = {k: v for k, v in {**SERVER_ENV, **self.env}.items() if k.startswith("MLINFER_")}
        words = [f"{k}={v}" for k, v in env.items()] + ["mlinfer", *self.command[3:]]
        return " ".join(words)

    @property
    def http_url(self) -> str:
        return f"127.0.0.1:{self.http_port}"

    @property
    def grpc_url(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> MlinferProcess:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            out.write(f"# {' '.join(self.command)}\n".encode())
            out.flush()
            self.proc = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **SERVER_ENV, **self.env},
            )
        try:
            wait_http_ready(
                f"http://{self.http_url}",
                self.models,
                self.proc,
                self.ready_timeout_s,
                "mlinfer serve",
                self.log,
            )
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout_s: float = 30.0) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)  # graceful in uvicorn, no KeyboardInterrupt trace
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def __enter__(self) -> MlinferProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def tree_rss_bytes(pid: int) -> int:
    """Resident memory of a process and all its descendants (Triton: server + backend stubs)."""
    psutil = psutil_module()
    total = 0
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            total += proc.memory_info().rss
    return total


def settled_rss_bytes(pid: int, settle_s: float = 1.0, attempts: int = 10) -> int:
    """RSS once it stops moving by more than 1% between samples ``settle_s`` apart."""
    previous = tree_rss_bytes(pid)
    for _ in range(attempts):
        time.sleep(settle_s)
        current = tree_rss_bytes(pid)
        if abs(current - previous) <= 0.01 * max(previous, 1):
            return current
        previous = current
    return previous
