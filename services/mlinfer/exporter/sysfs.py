"""sysfs readers: what the kernel exposes without tegrastats (and on any Linux for thermals).

All paths are taken under ``root`` so the readers run against a fake tree in tests:
- Jetson GPU load, in per-mille, at ``.../gpu.0/load`` (older L4T) or under the platform bus
  (``17000000.ga10b`` on L4T 35, ``bus@0/17000000.gpu`` on L4T 36);
- devfreq units (GPU, NVDLA, ...): ``/sys/class/devfreq/*/{cur,min,max}_freq`` in Hz;
- thermal zones: ``type``, ``temp`` (millidegrees; -256000 = offline) and their
  ``trip_point_N_{temp,type}``; a zone at or past a ``passive`` trip point is throttling;
- nvpmodel: the active mode id in ``/var/lib/nvpmodel/status`` (``pmode:0002``), its name in
  ``/etc/nvpmodel.conf`` (``< POWER_MODEL ID=2 NAME=30W >``).
"""

from __future__ import annotations

import re
from pathlib import Path

from mlinfer.exporter.jetson import TEGRA_GPU
from mlinfer.exporter.readings import CollectorUnavailable, Reading

_GPU_LOAD_GLOBS = (
    "sys/devices/gpu.0/load",
    "sys/devices/platform/gpu.0/load",
    "sys/devices/platform/*.ga10b/load",
    "sys/devices/platform/*.gv11b/load",
    "sys/devices/platform/bus@0/*.gpu/load",
    "sys/devices/platform/bus@0/*.ga10b/load",
)
_OFFLINE_MILLI_C = -256000
_STATUS = re.compile(r"pmode:\s*(\d+)")
_MODE = re.compile(r"<\s*POWER_MODEL\s+ID=(\d+)\s+NAME=(\S+)\s*>")
_CONF_PATHS = ("etc/nvpmodel.conf", "vendor/etc/nvpmodel.conf", "odm/etc/nvpmodel.conf")


def gpu_load(root: Path) -> list[Reading]:
    for pattern in _GPU_LOAD_GLOBS:
        for path in sorted(root.glob(pattern)):
            value = _number(path)
            if value is not None:
                return [Reading("nv_gpu_utilization", value / 1000, {"gpu_uuid": TEGRA_GPU})]
    return []


def devfreq(root: Path) -> list[Reading]:
    out = []
    for unit in sorted((root / "sys/class/devfreq").glob("*")):
        device = _devfreq_name(unit.name)
        current, top = _number(unit / "cur_freq"), _number(unit / "max_freq")
        if current is not None:
            out.append(
                Reading(
                    "mlinfer_device_clock_hertz", current, {"device": device, "clock": "devfreq"}
                )
            )
        if top is not None:
            out.append(
                Reading(
                    "mlinfer_device_clock_max_hertz", top, {"device": device, "clock": "devfreq"}
                )
            )
    return out


def thermal(root: Path) -> list[Reading]:
    out = []
    throttled = False
    for zone in sorted((root / "sys/class/thermal").glob("thermal_zone*")):
        sensor = _sensor_name(_text(zone / "type") or zone.name)
        milli = _number(zone / "temp")
        if milli is None:
            continue
        online = milli > _OFFLINE_MILLI_C
        out.append(
            Reading("mlinfer_device_sensor_online", 1.0 if online else 0.0, {"sensor": sensor})
        )
        if online:
            out.append(
                Reading("mlinfer_device_temperature_celsius", milli / 1000, {"sensor": sensor})
            )
        for trip_temp in sorted(zone.glob("trip_point_*_temp")):
            trip = trip_temp.name[len("trip_point_") : -len("_temp")]
            kind = _text(zone / f"trip_point_{trip}_type") or "unknown"
            limit = _number(trip_temp)
            if limit is None:
                continue
            out.append(
                Reading(
                    "mlinfer_device_thermal_trip_celsius",
                    limit / 1000,
                    {"sensor": sensor, "trip": trip, "type": kind},
                )
            )
            if online and kind == "passive" and milli >= limit:
                throttled = True
    if out:
        out.append(
            Reading("mlinfer_device_throttled", 1.0 if throttled else 0.0, {"device": "thermal"})
        )
    return out


def nvpmodel(root: Path) -> list[Reading]:
    status = _text(root / "var/lib/nvpmodel/status")
    match = _STATUS.search(status or "")
    if match is None:
        return []
    mode_id = str(int(match[1]))
    name = "unknown"
    for conf in _CONF_PATHS:
        text = _text(root / conf)
        if text:
            names = {str(int(i)): n for i, n in _MODE.findall(text)}
            name = names.get(mode_id, name)
            break
    return [Reading("mlinfer_device_nvpmodel_mode", 1.0, {"mode_id": mode_id, "mode": name})]


class SysfsCollector:
    name = "sysfs"

    def __init__(self, root: Path = Path("/")) -> None:
        self._root = root

    def collect(self) -> list[Reading]:
        readings = [
            *gpu_load(self._root),
            *devfreq(self._root),
            *thermal(self._root),
            *nvpmodel(self._root),
        ]
        if not readings:
            raise CollectorUnavailable(
                f"no GPU load, devfreq, thermal zone or nvpmodel under {self._root}"
            )
        return readings

    def close(self) -> None:
        pass


def _sensor_name(zone_type: str) -> str:
    # "cpu-thermal", "GPU-therm", "tj-thermal" -> the names tegrastats prints, lower-cased.
    name = zone_type.strip().lower()
    for suffix in ("-thermal", "-therm", "_thermal"):
        name = name.removesuffix(suffix)
    return name


def _devfreq_name(entry: str) -> str:
    # "17000000.ga10b" / "17000000.gpu" -> "gpu"; "15880000.nvdla0" -> "nvdla0".
    unit = entry.rsplit(".", 1)[-1]
    return "gpu" if unit in ("ga10b", "gv11b", "gp10b", "gpu") else unit


def _text(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _number(path: Path) -> float | None:
    text = _text(path)
    try:
        return float(text) if text else None
    except ValueError:
        return None
