"""A canary started from the panel that the registry rolls back on its own: a slow version
under live traffic fails its checks, and the page shows the registry's reason, per-arm charts
of both arms, and the traffic back on the baseline."""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.registry import (
    FAST,
    SLOW,
    Load,
    RegistryClient,
    embedded,
    looped,
    registry_settings,
    serving_repository,
)
from tests.support.servers import ServerThread


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[ServerThread, RegistryClient]]:
    repo = serving_repository(tmp_path, looped("m", FAST))
    with embedded(repo, registry_settings(tmp_path / "registry")) as srv:
        registry = RegistryClient(srv.server.registry_server.url)  # type: ignore[union-attr]
        try:
            assert registry.push(looped("m", FAST)).status_code == 201
            assert registry.deploy("m", "1").status_code == 200
            assert registry.push(looped("m", SLOW)).status_code == 201
            yield srv, registry
        finally:
            registry.close()


@pytest.mark.timeout(900)
def test_slow_canary_is_rolled_back_and_the_panel_says_why(
    page: Any, stack: tuple[ServerThread, RegistryClient], screenshots: Path
) -> None:
    srv, registry = stack
    page.goto(f"http://{srv.http}/admin")
    page.fill("#cred-value", "anything")  # authentication is off on this server
    page.click("#signin-form button[type=submit]")
    page.wait_for_selector("#nav:not([hidden])")
    page.click('#nav button[data-page="registry"]')
    page.wait_for_selector('#reg-versions tr[data-version="2"]')
    # One step: a last step without a baseline share is judged on bounds only (none are set
    # here), so a canary that got past 50 % by scheduling noise would be promoted.
    page.fill("#reg-canary-steps", "50")
    page.fill("#reg-canary-interval", "1")
    page.fill("#reg-canary-min", "8")  # slow requests take seconds on a loaded machine
    with Load(f"http://{srv.http}") as load:
        page.click('#reg-versions tr[data-version="2"] button.canary')
        # On a fully loaded 2-core machine a slow request takes seconds, so the bound (a
        # safety net only) is generous.
        try:
            page.wait_for_function(
                "() => ['rolled_back', 'promoted'].includes("
                "document.getElementById('reg-rollout-state')?.dataset.state)",
                timeout=600_000,
            )
        except Exception as exc:
            raise AssertionError(f"no verdict: {registry.status('m')}") from exc
        updates = int(page.get_attribute("#chart-arm-p99", "data-updates"))
        page.wait_for_function(  # a few refreshes after the decision, for the picture
            "(n) => Number(document.getElementById('chart-arm-p99').dataset.updates) >= n",
            arg=updates + 3,
        )
    rollout = registry.status("m")["rollout"]["rollout"]
    assert rollout["state"] == "rolled_back", rollout
    assert "failed checks" in rollout["reason"] and "p99" in rollout["reason"]
    assert registry.status("m")["traffic"]["arms"] == {"1": 100}
    assert not load.failures and load.versions["2"] > 0
    page.wait_for_function(
        "(reason) => document.getElementById('reg-rollback-reason')?.textContent === reason",
        arg=rollout["reason"],
    )
    assert page.inner_text("#reg-rollout-reason") == "Reason: " + rollout["reason"]
    assert "Failed checks: 2 of 2" in page.inner_text("#reg-rollout")
    assert page.inner_text("#reg-rollout-state") == "rolled back"
    where = rollout["steps"][rollout["step"]]
    assert page.inner_text("ol.steps li.failed") == f"{where} %"  # the step that failed
    # the p99 chart saw the slow arm well above the fast one (medians of the points drawn)
    p99 = page.evaluate("registry.charts.p99.points")
    fast, slow = (statistics.median(v for v in line if v is not None) for line in p99)
    assert slow > 2 * fast, p99
    page.screenshot(path=str(screenshots / "registry-auto-rollback.png"), full_page=True)
    assert page.errors == [] and page.outside == []
