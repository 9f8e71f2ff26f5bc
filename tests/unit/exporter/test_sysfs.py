"""sysfs readers against fake trees laid out as L4T 35 and L4T 36 lay out theirs."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlinfer.exporter.readings import CollectorUnavailable, Reading, check_known
from mlinfer.exporter.sysfs import SysfsCollector


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
    return root


def _zone(n: int, kind: str, milli_c: int, trips: list[tuple[int, str]]) -> dict[str, str]:
    base = f"sys/class/thermal/thermal_zone{n}"
    files = {f"{base}/type": kind, f"{base}/temp": str(milli_c)}
    for i, (temp, trip_type) in enumerate(trips):
        files[f"{base}/trip_point_{i}_temp"] = str(temp)
        files[f"{base}/trip_point_{i}_type"] = trip_type
    return files


L4T35 = {
    "sys/devices/platform/17000000.ga10b/load": "623",
    "sys/class/devfreq/17000000.ga10b/cur_freq": "918000000",
    "sys/class/devfreq/17000000.ga10b/max_freq": "1300500000",
    "sys/class/devfreq/15880000.nvdla0/cur_freq": "0",
    **_zone(0, "CPU-therm", 48500, [(99000, "passive"), (103000, "critical")]),
    **_zone(1, "GPU-therm", 47250, [(99000, "passive")]),
    **_zone(2, "CV0-therm", -256000, [(99000, "passive")]),
    "var/lib/nvpmodel/status": "pmode:0002 fmode:quiet",
    "etc/nvpmodel.conf": (
        "< POWER_MODEL ID=0 NAME=MAXN >\nCPU_ONLINE CORE_0 1\n"
        "< POWER_MODEL ID=1 NAME=MODE_15W >\n< POWER_MODEL ID=2 NAME=MODE_30W >\n"
        "< PM_CONFIG DEFAULT=2 >"
    ),
}
L4T36 = {
    "sys/devices/platform/bus@0/17000000.gpu/load": "1000",
    "sys/class/devfreq/17000000.gpu/cur_freq": "1300500000",
    **_zone(0, "cpu-thermal", 99500, [(99000, "passive"), (103000, "critical")]),
    **_zone(1, "tj-thermal", 99500, [(99000, "passive")]),
}


def _values(readings: list[Reading]) -> dict[tuple[str, tuple[str, ...]], float]:
    return {(r.name, tuple(r.labels.values())): r.value for r in check_known(readings)}


def test_l4t35_tree(tmp_path: Path) -> None:
    v = _values(SysfsCollector(_write(tmp_path, L4T35)).collect())
    assert v[("nv_gpu_utilization", ("tegra",))] == pytest.approx(0.623)  # per-mille
    assert v[("mlinfer_device_clock_hertz", ("gpu", "devfreq"))] == 918e6
    assert v[("mlinfer_device_clock_max_hertz", ("gpu", "devfreq"))] == 1300.5e6
    assert v[("mlinfer_device_clock_hertz", ("nvdla0", "devfreq"))] == 0
    assert v[("mlinfer_device_temperature_celsius", ("cpu",))] == 48.5
    assert v[("mlinfer_device_thermal_trip_celsius", ("cpu", "1", "critical"))] == 103.0
    # An offline zone is reported offline, with no temperature.
    assert v[("mlinfer_device_sensor_online", ("cv0",))] == 0.0
    assert ("mlinfer_device_temperature_celsius", ("cv0",)) not in v
    assert v[("mlinfer_device_throttled", ("thermal",))] == 0.0
    assert v[("mlinfer_device_nvpmodel_mode", ("2", "MODE_30W"))] == 1.0


def test_l4t36_tree_at_a_passive_trip_is_throttling(tmp_path: Path) -> None:
    v = _values(SysfsCollector(_write(tmp_path, L4T36)).collect())
    assert v[("nv_gpu_utilization", ("tegra",))] == 1.0
    assert v[("mlinfer_device_clock_hertz", ("gpu", "devfreq"))] == 1300.5e6
    assert v[("mlinfer_device_temperature_celsius", ("tj",))] == 99.5
    assert v[("mlinfer_device_throttled", ("thermal",))] == 1.0
    assert not any(name == "mlinfer_device_nvpmodel_mode" for name, _ in v)


def test_unreadable_values_are_skipped(tmp_path: Path) -> None:
    tree = {**L4T36, "sys/devices/platform/bus@0/17000000.gpu/load": "n/a",
            "sys/class/thermal/thermal_zone1/temp": ""}  # fmt: skip
    v = _values(SysfsCollector(_write(tmp_path, tree)).collect())
    assert ("nv_gpu_utilization", ("tegra",)) not in v
    assert ("mlinfer_device_temperature_celsius", ("tj",)) not in v
    assert v[("mlinfer_device_temperature_celsius", ("cpu",))] == 99.5


def test_a_tree_without_any_source_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(CollectorUnavailable, match="no GPU load, devfreq, thermal zone"):
        SysfsCollector(tmp_path).collect()
