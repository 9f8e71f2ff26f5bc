"""The registry as its own process (``mlinfer registry serve``), SIGKILLed mid-rollout:
gateways keep serving with the last policy, and the restarted registry resumes the rollout
from the database."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import httpx

from mlinfer.registry.settings import RegistrySettings
from tests.support.ports import free_port
from tests.support.registry import FAST, TOLERANT, Load, RegistryClient, looped, serving_repository
from tests.support.servers import ServerThread, cli_command, settings_for, wait_until


def _start_registry(port: int, root: Path, serving: str, repo: Path) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "MLINFER_AUTH_MODE": "disabled",
        "MLINFER_LOG_LEVEL": "WARNING",
        "MLINFER_REGISTRY_DATABASE_URL": f"sqlite:///{root}/registry.db",
        "MLINFER_REGISTRY_ARTIFACT_DIR": str(root / "artifacts"),
        "MLINFER_REGISTRY_ROLLOUT_TICK_SECONDS": "0.1",
        "MLINFER_REGISTRY_DRAIN_SECONDS": "0.2",
    }
    proc = subprocess.Popen(
        cli_command(
            "registry",
            "serve",
            "--port",
            str(port),
            "--serving-url",
            serving,
            "--serving-repository",
            str(repo),
        ),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"registry exited: {proc.stdout.read() if proc.stdout else ''}")
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(up, "registry serving")
    return proc


def test_sigkill_mid_rollout_gateway_serves_registry_resumes(tmp_path: Path) -> None:
    repo = serving_repository(tmp_path, looped("m", FAST))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    subscription = RegistrySettings(
        url=url, policy_cache=tmp_path / "gateway.json", poll_wait_seconds=2, retry_seconds=0.1
    )
    gateway = ServerThread(settings_for(repo), registry_settings=subscription).start()
    registry_proc = _start_registry(port, tmp_path / "registry", f"http://{gateway.http}", repo)
    registry = RegistryClient(url)
    try:
        assert registry.push(looped("m", FAST)).status_code == 201
        assert registry.deploy("m", "1").status_code == 200
        assert registry.push(looped("m", FAST)).status_code == 201
        with Load(f"http://{gateway.http}") as load:
            started = registry.canary(
                "m", "2", steps=[20, 50, 100], interval_s=1.0, analysis=TOLERANT
            )
            assert started.status_code == 200, started.text
            wait_until(lambda: registry.status("m")["rollout"]["rollout"]["step"] >= 1, "step 2")
            registry_proc.send_signal(signal.SIGKILL)
            registry_proc.communicate()  # reap it and close its output pipe
            traffic = gateway.server.traffic  # type: ignore[union-attr]
            kept = dict(traffic.policies["m"].arms)
            served = sum(load.versions.values())
            wait_until(lambda: sum(load.versions.values()) > served + 200, "serving on")
            assert dict(traffic.policies["m"].arms) == kept  # the last policy, kept
            assert not load.failures
            registry_proc = _start_registry(
                port, tmp_path / "registry", f"http://{gateway.http}", repo
            )
            wait_until(
                lambda: registry.status("m")["rollout"]["rollout"]["state"] == "promoted",
                "resumed rollout promoted",
                attempts=6000,
            )
        assert not load.failures
        wait_until(
            lambda: dict(gateway.server.traffic.policies["m"].arms) == {"2": 100},  # type: ignore[union-attr]
            "gateway follows the restarted registry",
        )
    finally:
        registry.close()
        if registry_proc.poll() is None:
            registry_proc.send_signal(signal.SIGTERM)
        registry_proc.communicate(timeout=60)
        gateway.stop()
