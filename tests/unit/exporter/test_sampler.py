"""The sampler: per-collector health, one log line per outage, exposition that parses."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from mlinfer.exporter.host import HostCollector
from mlinfer.exporter.readings import Reading
from mlinfer.exporter.sampler import Sampler, render_triton_counters
from mlinfer.exporter.sysfs import SysfsCollector


class EnergySource:
    """Readings as NVML gives them for one GPU (values from the H200 recording)."""

    name = "energy"

    def collect(self) -> list[Reading]:
        gpu = {"gpu_uuid": "GPU-c847313a"}
        return [Reading("nv_energy_consumption", 4668.358, gpu),
                Reading("nv_gpu_power_usage", 78.526, gpu)]  # fmt: skip

    def close(self) -> None:
        pass


class WrongLabels(EnergySource):
    name = "wrong"

    def collect(self) -> list[Reading]:
        return [Reading("nv_gpu_utilization", 0.5, {"gpu": "0"})]  # not Triton's label


def _scrape(sampler: Sampler) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    registry = CollectorRegistry()
    registry.register(sampler.collector())
    text = generate_latest(registry).decode() + render_triton_counters(sampler)
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def test_a_missing_source_is_down_logged_once_and_recovers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sampler = Sampler([SysfsCollector(tmp_path), HostCollector(["mlinfer"], ["/"])], 1.0)
    with caplog.at_level(logging.INFO, logger="mlinfer.exporter.sampler"):
        sampler.sample_once()
        sampler.sample_once()
        up = _scrape(sampler)["mlinfer_exporter_collector_up"]
        assert up == {(("collector", "sysfs"),): 0.0, (("collector", "host"),): 1.0}
        zone = tmp_path / "sys/class/thermal/thermal_zone0"
        zone.mkdir(parents=True)
        (zone / "type").write_text("gpu-thermal\n")
        (zone / "temp").write_text("51000\n")
        sampler.sample_once()
    down_logs = [r for r in caplog.records if "collector sysfs down" in r.getMessage()]
    assert len(down_logs) == 1
    assert any("collector sysfs up again" in r.getMessage() for r in caplog.records)
    metrics = _scrape(sampler)
    assert metrics["mlinfer_exporter_collector_up"][(("collector", "sysfs"),)] == 1.0
    assert metrics["mlinfer_device_temperature_celsius"] == {(("sensor", "gpu"),): 51.0}
    assert metrics["mlinfer_host_memory_total_bytes"][()] > 0


def test_energy_keeps_tritons_counter_name(tmp_path: Path) -> None:
    sampler = Sampler([EnergySource()], 1.0)
    sampler.sample_once()
    text = render_triton_counters(sampler)
    assert "# TYPE nv_energy_consumption counter\n" in text
    assert 'nv_energy_consumption{gpu_uuid="GPU-c847313a"} 4668.358' in text
    assert "_total" not in text
    assert _scrape(sampler)["nv_gpu_power_usage"] == {(("gpu_uuid", "GPU-c847313a"),): 78.526}


def test_readings_off_the_catalog_mark_the_collector_down() -> None:
    sampler = Sampler([WrongLabels(), EnergySource()], 1.0)
    sampler.sample_once()
    states = sampler.snapshot()
    assert states["wrong"].up is False and "metric catalog" in (states["wrong"].problem or "")
    assert states["energy"].up is True


def test_the_background_thread_keeps_sampling(tmp_path: Path) -> None:
    sampler = Sampler([EnergySource()], 0.01)
    sampler.start()
    try:
        for _ in range(5000):  # a bound against a hang, not a timing claim
            if sampler.samples >= 3:
                break
            sampler._stop.wait(0.01)
        assert sampler.samples >= 3
    finally:
        sampler.stop()
