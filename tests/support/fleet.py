"""A fleet on loopback: one ``mlinfer registry serve`` and ``mlinfer serve`` boxes, each a
real process with its own model repository, and closed-loop load per box."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from mlinfer.samples.graph import INT32, GraphBuilder
from mlinfer.samples.models import SampleModel, simple_add_sub
from mlinfer.samples.writer import write_model
from tests.support.ports import free_port
from tests.support.registry import SIMPLE_BODY, simple_variant
from tests.support.servers import cli_command, wait_until

_ENV = {"MLINFER_LOG_LEVEL": "WARNING", "MLINFER_AUTH_MODE": "disabled"}


def failing_variant() -> SampleModel:
    """``simple``'s interface, loads fine, fails every request of batch 1 at run time (a
    Reshape to 15 columns): a version only its metrics can catch."""
    g = GraphBuilder("simple")
    a = g.input("INPUT0", INT32, ["batch", 16])
    b = g.input("INPUT1", INT32, ["batch", 16])
    odd = g.op("Reshape", [a, g.const(np.array([-1, 15], dtype=np.int64), "s15")])
    back = g.op("Reshape", [odd, g.const(np.array([-1, 16], dtype=np.int64), "s16")])
    g.op("Add", [back, b], "OUTPUT0")
    g.op("Sub", [a, b], "OUTPUT1")
    g.output("OUTPUT0", INT32, ["batch", 16])
    g.output("OUTPUT1", INT32, ["batch", 16])
    return SampleModel("simple", g.model(), simple_add_sub().config, {})


class Process:
    """A CLI process with its output in a file (a pipe nobody reads would block it)."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str]) -> None:
        self.args, self.log, self.env = args, log, env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.args, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **self.env}
            )

    def alive(self) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            raise AssertionError(f"{self.args[3:5]} exited:\n{self.log.read_text()[-3000:]}")
        return True

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def _answers(url: str, path: str) -> bool:
    try:
        return httpx.get(url + path, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


class Box(Process):
    """``mlinfer serve`` on a fixed port (so it comes back at the address it was enrolled
    under), its repository starting with ``simple`` version 1."""

    def __init__(self, root: Path, name: str) -> None:
        self.name = name
        self.repository = root / name / "repo"
        self.repository.mkdir(parents=True)
        write_model(simple_variant("Add"), self.repository)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = cli_command(
            "serve", "--host", "127.0.0.1", "--http-port", str(self.port),
            "--grpc-port", str(free_port()), "--model-repository", str(self.repository),
        )  # fmt: skip
        super().__init__(args, root / name / "serve.log", _ENV)

    def start(self) -> None:
        super().start()
        wait_until(lambda: self.alive() and _answers(self.url, "/v2/health/ready"), self.name)

    def ready_versions(self) -> list[str]:
        rows = httpx.post(f"{self.url}/v2/repository/index", json={}, timeout=10).json()
        return [r["version"] for r in rows if r["name"] == "simple" and r.get("state") == "READY"]


class Registry(Process):
    def __init__(self, root: Path, **settings: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **_ENV,
            "MLINFER_REGISTRY_ARTIFACT_DIR": str(root / "artifacts"),
            "MLINFER_REGISTRY_ROLLOUT_TICK_SECONDS": "0.2",
            "MLINFER_REGISTRY_DRAIN_SECONDS": "0.2",
            **settings,
        }
        args = cli_command(
            "registry", "serve", "--host", "127.0.0.1", "--port", str(self.port),
            "--database-url", f"sqlite:///{root}/registry.db",
        )  # fmt: skip
        super().__init__(args, root / "registry.log", env)

    def start(self) -> None:
        super().start()
        wait_until(lambda: self.alive() and _answers(self.url, "/healthz"), "registry")

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``mlinfer registry <args> --url <this registry>``, as a user types it."""
        return subprocess.run(
            [*cli_command("registry", *args), "--url", self.url],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, **_ENV},
        )


class BoxLoad:
    """One closed-loop client on a box: counts the versions that answered, and failures."""

    def __init__(self, box: Box) -> None:
        self.versions: Counter[str] = Counter()
        self.failures: list[str] = []
        self._url = box.url
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self._url, timeout=60) as http:
            while not self._stop.is_set():
                try:
                    response = http.post("/v2/models/simple/infer", json=SIMPLE_BODY)
                except httpx.HTTPError as exc:
                    self.failures.append(f"transport: {exc}")
                    continue
                if response.status_code == 200:
                    self.versions[response.json()["model_version"]] += 1
                else:
                    self.failures.append(f"{response.status_code}: {response.text[:200]}")

    def __enter__(self) -> BoxLoad:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def wait_rollout(registry_url: str, rollout_id: int, states: tuple[str, ...]) -> dict[str, Any]:
    """Poll a fleet rollout until it reaches one of ``states`` (the bound is a safety net
    against hangs, not a timing claim; polls are spaced so the registry is not flooded)."""
    seen: dict[str, Any] = {}
    for _ in range(3000):
        seen = httpx.get(f"{registry_url}/v1/fleet/rollouts/{rollout_id}", timeout=30).json()
        if seen["state"] in states:
            return seen
        time.sleep(0.2)
    raise AssertionError(f"fleet rollout {rollout_id} never reached {states}: {seen}")
