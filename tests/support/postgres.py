"""A real PostgreSQL for tests: initdb + pg_ctl as an unprivileged user, loopback, free port.

PostgreSQL refuses to run as root (CI runs as root), so the cluster belongs to ``nobody``
then; as any other user it runs as that user. Without the binaries (``apt-get install
postgresql``, see scripts/ci/registry-services.sh) tests skip with the reason.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.support.ports import free_port

UNPRIVILEGED = "nobody"


def postgres_bindir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(candidates[-1]).parent if candidates else None


class PostgresServer:
    def __init__(self) -> None:
        bindir = postgres_bindir()
        if bindir is None:
            pytest.skip("PostgreSQL not installed (apt-get install postgresql)")
        self._bin = bindir
        self._tmp = tempfile.mkdtemp(prefix="pg-test-")
        os.chmod(self._tmp, 0o755)
        self.data = Path(self._tmp) / "data"
        self.port = free_port()
        self._as_other = os.geteuid() == 0

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [str(a) for a in args]
        if self._as_other:
            command = ["runuser", "-u", UNPRIVILEGED, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, cwd=self._tmp)
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {result.stdout}{result.stderr}")

    def start(self) -> PostgresServer:
        if not self.data.exists():
            self.data.mkdir()
            if self._as_other:
                shutil.chown(self.data, UNPRIVILEGED)
                shutil.chown(self._tmp, UNPRIVILEGED)
            self._run(self._bin / "initdb", "-D", self.data, "-U", "postgres",
                      "--auth=trust", "--no-sync", "-E", "UTF8")  # fmt: skip
        options = f"-h 127.0.0.1 -p {self.port} -k {self._tmp} -c fsync=off"
        self._run(self._bin / "pg_ctl", "-D", self.data, "-o", options, "-w",
                  "-l", Path(self._tmp) / "log", "start")  # fmt: skip
        return self

    def stop(self, mode: str = "fast") -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(self._bin / "pg_ctl", "-D", self.data, "-m", mode, "-w", "stop")

    def wait_ready(self, timeout_s: float = 30) -> None:
        import psycopg

        deadline = time.monotonic() + timeout_s
        while True:
            try:
                psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres").close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def close(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
