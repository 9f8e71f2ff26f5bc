"""The instances page in chromium: the server's counts, and a real ``mlinfer autoscaler``
(dry run, so its wish and the served count differ) read through the panel's relay."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.ports import free_port
from tests.support.servers import ServerThread, cli_command, settings_for, wait_until


def _open_instances(page: Any, srv: ServerThread) -> None:
    page.goto(f"http://{srv.http}/admin")
    page.fill("#cred-value", "anything")  # authentication is off on these servers
    page.click("#signin-form button[type=submit]")
    page.wait_for_selector("#nav:not([hidden])")
    page.click('#nav button[data-page="instances"]')
    page.wait_for_selector('#inst-table tr[data-model="simple"]')


def _served(srv: ServerThread, model: str) -> int:
    doc = httpx.get(f"http://{srv.http}/v2/admin/models/{model}/instances").json()
    return int(doc["instances"])


def test_without_an_autoscaler_the_page_says_so(
    page: Any, sample_repository: Path, screenshots: Path
) -> None:
    settings = settings_for(sample_repository, startup_models=["simple", "image_cnn"])
    with ServerThread(settings) as srv:
        _open_instances(page, srv)
        page.wait_for_selector("#inst-off")
        assert "No autoscaler configured" in page.inner_text("#inst-off")
        for model in ("simple", "image_cnn"):
            shown = page.inner_text(f'#inst-table tr[data-model="{model}"] td.served')
            assert int(shown) == _served(srv, model)
        assert _served(srv, "image_cnn") != _served(srv, "simple")  # the cells are per model
        # by hand: the server changes the count live and the page reads it back
        page.fill("#inst-count-simple", "3")
        page.click('#inst-table tr[data-model="simple"] button.set')
        page.wait_for_function(
            "() => document.getElementById('inst-notice').textContent === 'simple: 3 instances'"
        )
        assert _served(srv, "simple") == 3
        page.wait_for_function(
            "() => document.querySelector('#inst-table tr[data-model=\"simple\"] td.served')"
            ".textContent === '3'"
        )
        page.fill("#inst-count-simple", "0")
        page.click('#inst-table tr[data-model="simple"] button.set')
        page.wait_for_function(
            "() => /refused/.test(document.getElementById('inst-error').textContent)"
        )
        assert "between 1 and 64" in page.inner_text("#inst-error")
        assert _served(srv, "simple") == 3
        page.screenshot(path=str(screenshots / "instances-off.png"), full_page=True)
    assert page.errors == [] and page.outside == []


@pytest.fixture
def scaled(sample_repository: Path) -> Iterator[ServerThread]:
    """A server and an autoscaler in dry run that wants 2 instances of ``simple`` (it has 1)."""
    port = free_port()
    settings = settings_for(
        sample_repository,
        startup_models=["simple"],
        admin_autoscaler_url=f"http://127.0.0.1:{port}/metrics",
    )
    with ServerThread(settings) as srv:
        assert _served(srv, "simple") == 1
        env = {
            **os.environ,
            "MLINFER_AUTOSCALER_MIN_INSTANCES": "2",
            "MLINFER_AUTOSCALER_LOG_LEVEL": "WARNING",
        }
        proc = subprocess.Popen(
            cli_command(
                "autoscaler", "--server-url", f"http://{srv.http}", "--model", "simple",
                "--interval", "0.5", "--port", str(port), "--dry-run",
            ),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        )  # fmt: skip
        try:
            yield srv
        finally:
            proc.terminate()
            proc.communicate(timeout=60)


def test_autoscaler_decisions_and_counts(
    page: Any, scaled: ServerThread, screenshots: Path
) -> None:
    _open_instances(page, scaled)
    row = '#inst-table tr[data-model="simple"]'
    page.wait_for_function(
        f"() => document.querySelector('{row} td:nth-child(3)').textContent === '2'"
    )
    # dry run: the autoscaler wants 2, the server still serves 1, and the page shows both
    assert page.inner_text(f"{row} td.served") == "1"
    assert page.inner_text(f"{row} td:nth-child(4)") == "1"
    assert _served(scaled, "simple") == 1
    # decisions made while the page was open show up, with the policy's reason
    page.wait_for_selector("#inst-seen tbody tr")
    seen = page.inner_text("#inst-seen tbody tr:first-child")
    assert "simple" in seen and "up" in seen, seen
    totals = page.inner_text("#inst-decisions tbody")
    assert "up" in totals
    wait_until(lambda: "up (" in page.inner_text(f"{row} td:nth-child(5)"), "last decision shown")
    page.screenshot(path=str(screenshots / "instances.png"), full_page=True)
    assert page.errors == [] and page.outside == []
