"""A real ``redis-server`` for tests: loopback only, free port, no persistence.

Tests start their own server (never the system service), so they can kill it mid-run
and start a new one on the same port to test outage handling. Without the binary
(``apt-get install redis-server``, see scripts/ci/services.sh) tests skip with a reason.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.support.ports import free_port


def redis_binary() -> str | None:
    return shutil.which("redis-server")


def require_redis_binary() -> str:
    """The ``redis-server`` path, or skip the test that needs it."""
    binary = redis_binary()
    if binary is None:
        pytest.skip("redis-server binary not found (apt-get install redis-server)")
    return binary


def ping(port: int, timeout_s: float = 0.2) -> bool:
    """Whether a Redis server on ``127.0.0.1:port`` answers ``PING`` with ``PONG``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One ``redis-server`` process; ``port=None`` picks a free port.

    Use as a context manager, or :meth:`start` / :meth:`stop` (graceful) / :meth:`kill`
    (SIGKILL, like a crash). A stopped server can be replaced by ``RedisServer(port=...)``.
    """

    def __init__(self, port: int | None = None, *, binary: str | None = None) -> None:
        self.port = port if port is not None else free_port()
        self._binary = binary or require_redis_binary()
        self._dir = tempfile.TemporaryDirectory(prefix="redis-test-")
        self._log = Path(self._dir.name) / "redis.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 10.0) -> RedisServer:
        args = [
            self._binary,
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--save", "",
            "--appendonly", "no",
            "--dir", self._dir.name,
            "--logfile", str(self._log),
            "--daemonize", "no",
        ]  # fmt: skip
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout_s
        while not ping(self.port):
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"redis-server exited ({self.process.returncode}): {self._why()}"
                )
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"redis-server did not answer PING in {timeout_s} s")
            time.sleep(0.01)
        return self

    def _why(self) -> str:
        pipe = self.process.stderr if self.process is not None else None
        stderr = pipe.read().decode(errors="replace") if pipe is not None else ""
        log = self._log.read_text(errors="replace") if self._log.exists() else ""
        return (stderr + log).strip()[-2000:]

    def stop(self, timeout_s: float = 10.0) -> None:
        """Graceful shutdown (SIGTERM), waiting for the process to exit."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._close()

    def kill(self) -> None:
        """SIGKILL: the server vanishes mid-conversation, as in a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._close()

    def _close(self) -> None:
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()

    def cleanup(self) -> None:
        self.stop()
        self._dir.cleanup()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
