"""``mlinfer exporter`` as a user runs it: its own port, every collector optional.

NVML answers on GPU machines only and tegrastats on Jetson only, so here the Jetson side is
a replay: a script in tegrastats' place that prints a documented AGX Orin L4T 36 line per
interval (``--interval`` as tegrastats takes it), over a fake sysfs tree.
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.servers import cli_command, wait_until
from tests.unit.exporter.test_sysfs import L4T35, _write
from tests.unit.exporter.test_tegrastats import AGX_ORIN_L4T36

Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _series(text: str) -> Series:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }


@pytest.fixture
def jetson_like(tmp_path: Path) -> Path:
    _write(tmp_path / "root", L4T35)
    replay = tmp_path / "tegrastats"
    replay.write_text(
        "#!/bin/sh\n"
        '[ "$1" = "--interval" ] || exit 2\n'
        f"while true; do echo '{AGX_ORIN_L4T36}'; sleep 0.2; done\n"
    )
    replay.chmod(replay.stat().st_mode | stat.S_IEXEC)
    return tmp_path


@pytest.fixture
def exporter(jetson_like: Path) -> Iterator[str]:
    env = {
        **os.environ,
        "MLINFER_EXPORTER_TEGRASTATS_COMMAND": str(jetson_like / "tegrastats"),
        "MLINFER_EXPORTER_TEGRASTATS_INTERVAL_MS": "200",
    }
    proc = subprocess.Popen(
        cli_command("exporter", "--port", "0", "--interval", "0.2", "--log-level", "WARNING",
                    "--sysfs-root", str(jetson_like / "root")),
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        assert "/metrics" in banner, banner
        yield banner.split("http://", 1)[1].split("/metrics", 1)[0]
    finally:
        proc.terminate()
        proc.communicate(timeout=30)  # reap it and close its output pipe


def test_exporter_serves_jetson_metrics_under_tritons_names(exporter: str) -> None:
    url = f"http://{exporter}/metrics"
    series: Series = {}

    def tegrastats_up() -> bool:
        nonlocal series
        series = _series(httpx.get(url).text)
        up = series.get(("mlinfer_exporter_collector_up", (("collector", "tegrastats"),)))
        return up == 1.0 and any(n == "mlinfer_device_rail_power_watts" for n, _ in series)

    wait_until(tegrastats_up, "tegrastats collector up with a parsed line")
    up = {dict(k[1])["collector"]: v for k, v in series.items()
          if k[0] == "mlinfer_exporter_collector_up"}  # fmt: skip
    assert up["sysfs"] == 1.0 and up["host"] == 1.0 and up["tegrastats"] == 1.0
    tegra = (("gpu_uuid", "tegra"),)
    # tegrastats (47 %) wins over the sysfs fallback (62.3 %): one series, not two.
    assert series[("nv_gpu_utilization", tegra)] == 0.47
    assert series[("nv_gpu_memory_total_bytes", tegra)] == 62841 * 1024 * 1024
    assert series[("mlinfer_device_engine_utilization", (("engine", "nvenc"),))] == 0.79
    assert series[("mlinfer_device_nvpmodel_mode", (("mode", "MODE_30W"), ("mode_id", "2")))] == 1
    assert series[("mlinfer_device_sensor_online", (("sensor", "cv0"),))] == 0.0
    assert httpx.get(f"http://{exporter}/health").text == "ok\n"
    assert httpx.get(f"http://{exporter}/nope").status_code == 404


def test_once_prints_one_sample_and_exits(jetson_like: Path) -> None:
    result = subprocess.run(
        cli_command("exporter", "--once", "--collector", "sysfs", "--collector", "nvml",
                    "--sysfs-root", str(jetson_like / "root"), "--log-level", "ERROR"),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    series = _series(result.stdout)
    assert series[("mlinfer_exporter_collector_up", (("collector", "sysfs"),))] == 1.0
    assert ("mlinfer_exporter_collector_up", (("collector", "tegrastats"),)) not in series


def test_bad_settings_are_a_clear_error() -> None:
    result = subprocess.run(
        cli_command("exporter", "--port", "70000"), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "invalid configuration" in result.stderr and "port" in result.stderr
