"""Device telemetry on the overview from a real ``mlinfer exporter`` (a Jetson replay: a
script in tegrastats' place over a fake sysfs tree, as tests/integration/test_exporter_cli.py
runs it), read through the panel's relay because the exporter answers no cross-origin call."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.servers import ServerThread, cli_command, settings_for
from tests.unit.exporter.test_sysfs import L4T35, _write
from tests.unit.exporter.test_tegrastats import AGX_ORIN_L4T36


@pytest.fixture
def exporter(tmp_path: Path) -> Iterator[str]:
    _write(tmp_path / "root", L4T35)
    replay = tmp_path / "tegrastats"
    replay.write_text(
        "#!/bin/sh\n"
        '[ "$1" = "--interval" ] || exit 2\n'
        f"while true; do echo '{AGX_ORIN_L4T36}'; sleep 0.2; done\n"
    )
    replay.chmod(replay.stat().st_mode | stat.S_IEXEC)
    env = {**os.environ, "MLINFER_EXPORTER_TEGRASTATS_COMMAND": str(replay),
           "MLINFER_EXPORTER_TEGRASTATS_INTERVAL_MS": "200"}  # fmt: skip
    proc = subprocess.Popen(
        cli_command("exporter", "--port", "0", "--interval", "0.2", "--log-level", "WARNING",
                    "--sysfs-root", str(tmp_path / "root")),
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        assert "/metrics" in banner, banner
        yield "http://" + banner.split("http://", 1)[1].split("/metrics", 1)[0] + "/metrics"
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def _gpu_percent(url: str) -> str:
    for family in text_string_to_metric_families(httpx.get(url).text):
        for sample in family.samples:
            if sample.name == "nv_gpu_utilization":
                return f"{100 * sample.value:.0f} %"
    raise AssertionError("the exporter has no nv_gpu_utilization")


def test_overview_shows_the_device(
    page: Any, exporter: str, sample_repository: Path, screenshots: Path
) -> None:
    settings = settings_for(
        sample_repository, startup_models=["simple"], admin_exporter_url=exporter
    )
    with ServerThread(settings) as srv:
        page.goto(f"http://{srv.http}/admin")
        page.fill("#cred-value", "anything")  # authentication is off on this server
        page.click("#signin-form button[type=submit]")
        page.wait_for_function(
            "() => /Temperature/.test(document.getElementById('svc-exporter').textContent)"
        )
        card = page.inner_text("#svc-exporter pre")
        assert f"GPU use      {_gpu_percent(exporter)}" in card, card
        assert "°C" in card and "Power" in card, card
        page.wait_for_function("() => document.getElementById('t-rate').textContent !== '-'")
        page.screenshot(path=str(screenshots / "overview-device.png"), full_page=True)
    assert page.errors == [] and page.outside == []
