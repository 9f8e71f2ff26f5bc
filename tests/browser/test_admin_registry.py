"""The registry page in chromium against ``mlinfer serve`` hosting the registry in-process:
deploy, split, canary, abort and roll back from the panel, then the registry's state and the
gateway's routing are checked over their own APIs (not the page)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mlinfer.auth import ApiKeySpec, hash_api_key, issue_token, new_api_key
from tests.support.registry import (
    SIMPLE_BODY,
    RegistryClient,
    registry_settings,
    serving_repository,
    simple_variant,
)
from tests.support.servers import ServerThread, settings_for, wait_until

SECRET = "r" * 48
ADMIN = issue_token(SECRET, "operator", ["models:admin", "infer"], ttl_s=3600)
READER = issue_token(SECRET, "viewer", ["models:read", "infer"], ttl_s=3600)


class Stack:
    def __init__(self, srv: ServerThread, registry: RegistryClient) -> None:
        self.srv, self.registry = srv, registry

    def detail(self) -> dict[str, Any]:
        response = self.registry.http.get("/v1/models/simple")
        response.raise_for_status()
        return dict(response.json())

    def arms(self) -> dict[str, int]:
        traffic = self.detail()["traffic"]
        return dict(traffic["arms"]) if traffic else {}

    def served_versions(self, requests: int = 60) -> Counter[str]:
        """Which versions the gateway serves requests that name none with, right now."""
        seen: Counter[str] = Counter()
        headers = {"Authorization": f"Bearer {ADMIN}"}
        with httpx.Client(base_url=f"http://{self.srv.http}", headers=headers) as http:
            for _ in range(requests):
                response = http.post("/v2/models/simple/infer", json=SIMPLE_BODY)
                assert response.status_code == 200, response.text
                seen[response.json()["model_version"]] += 1
        return seen

    def loaded(self) -> list[str]:
        headers = {"Authorization": f"Bearer {ADMIN}"}
        index = httpx.post(
            f"http://{self.srv.http}/v2/repository/index", json={}, headers=headers
        ).json()
        return sorted(
            m["version"] for m in index if m["name"] == "simple" and m["state"] == "READY"
        )


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """Users sign in with JWTs; the registry loads models and subscribes with an API key."""
    service_key = new_api_key()
    keys = [ApiKeySpec(name="registry", hash=hash_api_key(service_key), scopes=["models:admin"])]
    settings = registry_settings(
        tmp_path / "registry", serving_api_key=service_key, api_key=service_key
    )
    server = ServerThread(
        settings_for(
            serving_repository(tmp_path),
            auth_mode="required",
            auth_jwt_secret=SECRET,
            auth_api_keys=keys,
        ),
        registry_settings=settings.model_copy(update={"embedded": True}),
    )
    with server as srv:
        url = srv.server.registry_server.url  # type: ignore[union-attr]
        registry = RegistryClient(url, {"X-API-Key": service_key})
        try:
            for op in ("Add", "Sub"):  # v1 adds, v2 subtracts: answers tell them apart
                assert registry.push(simple_variant(op)).status_code == 201
            yield Stack(srv, registry)
        finally:
            registry.close()


def _open_registry(page: Any, stack: Stack, token: str) -> None:
    page.goto(f"http://{stack.srv.http}/admin")
    page.select_option("#cred-kind", "jwt")
    page.fill("#cred-value", token)
    page.click("#signin-form button[type=submit]")
    page.wait_for_selector("#nav:not([hidden])")
    page.click('#nav button[data-page="registry"]')


def _wait_text(page: Any, selector: str, pattern: str) -> None:
    page.wait_for_function(
        "([s, p]) => { const e = document.querySelector(s);"
        " return e && new RegExp(p).test(e.textContent); }",
        arg=[selector, pattern],
    )


def _version_row(version: int) -> str:
    return f'#reg-versions tr[data-version="{version}"]'


def test_deploy_split_and_roll_back_from_the_panel(
    page: Any, stack: Stack, screenshots: Path
) -> None:
    _open_registry(page, stack, ADMIN)
    page.wait_for_selector(_version_row(2))
    assert page.inner_text("#reg-model") == "simple"

    # deploy v2, keeping v1 loaded
    page.check("#reg-keep-previous")
    page.click(f"{_version_row(2)} button.deploy")
    _wait_text(page, "#reg-notice", "deploy v2 simple: done")
    assert stack.arms() == {"2": 100}
    assert stack.detail()["aliases"] == {"production": 2}
    assert stack.loaded() == ["1", "2"]
    assert set(stack.served_versions(20)) == {"2"}
    _wait_text(page, f"{_version_row(2)} td:nth-child(3)", "100 %")

    # split 30/70 in the editor
    page.fill('#reg-split input[data-version="1"]', "30")
    page.fill('#reg-split input[data-version="2"]', "60")
    assert "must be 100" in page.inner_text("#reg-split-sum")
    page.fill('#reg-split input[data-version="2"]', "70")
    page.click("#reg-split-apply")
    _wait_text(page, "#reg-notice", "split simple: done")
    assert stack.arms() == {"1": 30, "2": 70}
    wait_until(lambda: set(stack.served_versions()) == {"1", "2"}, "the gateway routes by 30/70")
    _wait_text(page, f"{_version_row(1)} td:nth-child(3)", "30 %")
    page.screenshot(path=str(screenshots / "registry.png"), full_page=True)

    # roll back to v1: it is still loaded, so the rollback is a policy flip
    page.fill("#reg-rollback-to", "1")
    page.click("#reg-rollback")
    _wait_text(page, "#reg-notice", "rollback to 1 simple: done")
    assert stack.arms() == {"1": 100}
    wait_until(lambda: set(stack.served_versions(20)) == {"1"}, "the gateway serves v1 only")
    _wait_text(page, "#reg-rollback-reason", "by operator")
    audit = stack.registry.audit("simple")
    assert [e["actor"] for e in audit if e["action"] == "rollback"] == ["operator"]
    assert page.errors == [] and page.outside == []


def test_canary_progress_per_arm_and_abort_from_the_panel(
    page: Any, stack: Stack, screenshots: Path
) -> None:
    assert stack.registry.deploy("simple", "1").status_code == 200
    _open_registry(page, stack, ADMIN)
    page.wait_for_selector(_version_row(2))
    page.fill("#reg-canary-steps", "50")
    page.fill("#reg-canary-interval", "3600")  # no automatic check during the test
    page.click(f"{_version_row(2)} button.canary")
    _wait_text(page, "#reg-rollout-state", "^running$")
    status = stack.registry.status("simple")
    assert status["rollout"]["rollout"]["state"] == "running"
    assert stack.arms() == {"1": 50, "2": 50}

    # traffic on both arms: the per-arm charts and the analysis table show it
    wait_until(lambda: set(stack.served_versions()) == {"1", "2"}, "both arms serve")
    stack.served_versions(60)
    page.wait_for_function(
        "() => Number(document.getElementById('chart-arm-rate').dataset.updates) >= 2"
    )
    page.wait_for_function(
        "() => [...document.querySelectorAll('#reg-rollout table.arms tbody tr')]"
        ".every((r) => Number(r.children[1].textContent) > 0)"
    )
    rates = page.evaluate("registry.charts.rate.points")
    assert all(any(v and v > 0 for v in line) for line in rates), rates
    page.screenshot(path=str(screenshots / "registry-canary.png"), full_page=True)

    page.click("#reg-abort")
    _wait_text(page, "#reg-rollout-state", "^aborted$")
    assert stack.registry.status("simple")["rollout"]["rollout"]["state"] == "aborted"
    assert stack.arms() == {"1": 100}
    wait_until(lambda: stack.loaded() == ["1"], "the candidate is unloaded")
    assert set(stack.served_versions(20)) == {"1"}
    _wait_text(page, "#reg-rollback-reason", "aborted by operator")
    page.screenshot(path=str(screenshots / "registry-rollback.png"), full_page=True)
    assert page.errors == [] and page.outside == []


def test_a_viewer_sees_the_registry_refusal_and_changes_nothing(
    page: Any, stack: Stack, screenshots: Path
) -> None:
    _open_registry(page, stack, READER)
    _wait_text(page, "#reg-error", "models:admin")
    assert page.locator("#reg-versions tbody tr").count() == 0
    # the same call the Deploy button makes, with the viewer's credential
    status = page.evaluate(
        """async (token) => (await fetch("/admin/api/registry/models/simple/deploy", {
             method: "POST", headers: {"Authorization": "Bearer " + token,
             "Content-Type": "application/json"}, body: JSON.stringify({version: "2"})})).status""",
        READER,
    )
    assert status == 403
    assert stack.arms() == {} and stack.registry.status("simple")["deployments"] == []
    assert re.search("refused|models:admin", page.inner_text("#reg-error"))
    page.screenshot(path=str(screenshots / "registry-refused.png"), full_page=True)


def test_alias_and_promote_from_the_panel(page: Any, stack: Stack) -> None:
    assert stack.registry.deploy("simple", "1").status_code == 200
    started = stack.registry.canary("simple", "2", steps=[25, 100], interval_s=3600)
    assert started.status_code == 200, started.text
    _open_registry(page, stack, ADMIN)
    _wait_text(page, "#reg-rollout-state", "^running$")
    page.fill("#reg-alias-name", "staging")
    page.click(f"{_version_row(2)} button.alias")
    _wait_text(page, "#reg-notice", "alias staging -> v2 simple: done")
    assert stack.detail()["aliases"] == {"production": 1, "staging": 2}
    _wait_text(page, f"{_version_row(2)} td:nth-child(2)", "staging")

    page.click("#reg-promote")
    _wait_text(page, "#reg-rollout-state", "^promoted$")
    rollout = stack.registry.status("simple")["rollout"]["rollout"]
    assert rollout["state"] == "promoted" and rollout["reason"] == "promoted by hand"
    assert stack.arms() == {"2": 100}
    assert stack.detail()["aliases"] == {"production": 2, "staging": 2}
    wait_until(lambda: stack.loaded() == ["2"], "the baseline is unloaded")
    assert set(stack.served_versions(20)) == {"2"}
    assert page.is_disabled("#reg-promote") and page.is_disabled("#reg-abort")
    assert page.errors == [] and page.outside == []
