"""Canaries decide on their own: a slow version is rolled back, a good one promoted, and
one without traffic holds. Short intervals come from the rollout request (config)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.registry import (
    ANALYSIS,
    FAST,
    LOOPED_BODY,
    SLOW,
    TOLERANT,
    Load,
    RegistryClient,
    embedded,
    looped,
    registry_settings,
    serving_repository,
)
from tests.support.servers import ServerThread, wait_until


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[ServerThread, RegistryClient]]:
    repo = serving_repository(tmp_path, looped("m", FAST))
    with embedded(repo, registry_settings(tmp_path / "registry")) as srv:
        registry = RegistryClient(srv.server.registry_server.url)  # type: ignore[union-attr]
        assert registry.push(looped("m", FAST)).status_code == 201
        assert registry.deploy("m", "1").status_code == 200
        try:
            yield srv, registry
        finally:
            registry.close()


def _rollout(registry: RegistryClient) -> dict[str, Any]:
    return dict(registry.status("m")["rollout"]["rollout"])


def _finished(registry: RegistryClient) -> Callable[[], bool]:
    return lambda: _rollout(registry)["state"] not in ("running", "paused")


def test_slow_canary_rolls_back_with_the_metric_that_fired(
    stack: tuple[ServerThread, RegistryClient],
) -> None:
    srv, registry = stack
    assert registry.push(looped("m", SLOW)).status_code == 201
    with Load(f"http://{srv.http}") as load:
        started = registry.canary("m", "2", steps=[30, 60, 100], interval_s=0.5, analysis=ANALYSIS)
        assert started.status_code == 200, started.text
        wait_until(_finished(registry), "canary decided", attempts=6000)
    rollout = _rollout(registry)
    assert rollout["state"] == "rolled_back", rollout
    assert "failed checks" in rollout["reason"] and "p99" in rollout["reason"]
    assert rollout["failed_checks"] == 2
    assert not load.failures
    assert load.versions["2"] > 0  # the canary did get traffic before it was judged
    assert registry.status("m")["traffic"]["arms"] == {"1": 100}
    actions = [e["action"] for e in registry.audit("m")]
    assert "canary-check-failed" in actions and "rolled-back" in actions
    with httpx.Client(base_url=f"http://{srv.http}") as http:
        assert http.post("/v2/models/m/infer", json=LOOPED_BODY).json()["model_version"] == "1"
        assert http.get("/v2/models/m/versions/2/ready").status_code == 400  # unloaded


def test_good_canary_is_promoted_to_all_traffic(
    stack: tuple[ServerThread, RegistryClient],
) -> None:
    srv, registry = stack
    assert registry.push(looped("m", FAST)).status_code == 201
    with Load(f"http://{srv.http}") as load:
        started = registry.canary("m", "2", steps=[30, 60, 100], interval_s=0.5, analysis=TOLERANT)
        assert started.status_code == 200, started.text
        wait_until(_finished(registry), "canary decided", attempts=6000)
    assert not load.failures
    rollout = _rollout(registry)
    assert rollout["state"] == "promoted", rollout
    assert rollout["reason"] == "all 3 steps passed" and rollout["step"] == 2
    shown = registry.http.get("/v1/models/m").json()
    assert shown["traffic"]["arms"] == {"2": 100} and shown["aliases"]["production"] == 2


def test_canary_without_traffic_holds_then_aborts(
    stack: tuple[ServerThread, RegistryClient],
) -> None:
    _, registry = stack
    assert registry.push(looped("m", FAST)).status_code == 201
    started = registry.canary("m", "2", steps=[10, 100], interval_s=0.2, analysis=ANALYSIS)
    assert started.status_code == 200, started.text
    wait_until(
        lambda: _rollout(registry)["last_check"].get("result") == "hold", "a check that holds"
    )
    rollout = _rollout(registry)
    assert rollout["state"] == "running" and rollout["step"] == 0
    assert "too few requests" in rollout["last_check"]["reason"]
    # A second rollout or a deploy meanwhile: 409.
    assert registry.deploy("m", "2").status_code == 409
    assert registry.http.post("/v1/models/m/pause").json()["state"] == "paused"
    assert registry.http.post("/v1/models/m/resume").json()["state"] == "running"
    aborted = registry.http.post("/v1/models/m/abort")
    assert aborted.status_code == 200 and aborted.json()["state"] == "aborted"
    assert registry.status("m")["traffic"]["arms"] == {"1": 100}
    assert registry.deploy("m", "2").status_code == 200  # free again
