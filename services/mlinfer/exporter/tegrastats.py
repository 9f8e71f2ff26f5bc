"""Parser for one ``tegrastats`` line (Jetson; NVML and DCGM do not work there).

The line is a sequence of fields whose spelling moved between L4T releases and modules:
- memory: ``RAM 3162/7620MB (lfb 8x4MB)`` (lfb also in kB), ``SWAP 0/3810MB (cached 0MB)``;
- CPU: ``CPU [1%@1510,0%@1510,off,...]`` per core, or the older ``CPU [12%,5%]@1420``;
- memory controller: ``EMC_FREQ 3%@2133``, ``EMC_FREQ 0%`` (no clock), older ``EMC 1%@408``;
- GPU: ``GR3D_FREQ 10%@1300`` (L4T 35), ``GR3D_FREQ 0%@[305,305]`` (clock per GPC, L4T 36),
  ``GR3D_FREQ 88%`` (no clock), ``GR3D_FREQ @[1000,1000]`` (clocks only), older ``GR3D 3%@76``;
- engines: ``NVENC 79%@166``, ``NVDEC 115`` (clock only), ``NVDEC off``, ``VIC_FREQ 729``,
  ``NVDLA0 off``, ``PVA0_FREQ off``, ``APE 174``;
- temperatures: ``cpu@52.562C`` (L4T 35 lower case), ``CPU@44.562C``/``Tboard@32C`` (L4T 36),
  ``cpu@52.968C/52.968C``; ``-256C`` is an offline sensor, reported as offline;
- power rails: ``VDD_GPU_SOC 2412mW/2412mW`` (current/average), a third value on newer
  releases, ``POM_5V_IN 3181/3181`` (no unit) on the oldest; ``NC`` rails are unconnected.
Sensor, engine and rail names are reported lower-cased so one dashboard fits every release.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_MB = 1024 * 1024
_UNITS = {"kB": 1024, "KB": 1024, "MB": _MB, "GB": 1024 * _MB}
OFFLINE_C = -256.0

_TIMESTAMP = re.compile(r"^\s*\d{2}-\d{2}-\d{4} \d{2}:\d{2}:\d{2}\s+")
_RAM = re.compile(r"\bRAM (\d+)/(\d+)MB(?: \(lfb (\d+)x(\d+)(kB|KB|MB)\))?")
_SWAP = re.compile(r"\bSWAP (\d+)/(\d+)MB(?: \(cached (\d+)MB\))?")
_CPU = re.compile(r"\bCPU \[([^\]]*)\](?:@(\d+))?", re.IGNORECASE)
_EMC = re.compile(r"\bEMC(?:_FREQ)? (\d+)%(?:@(\d+))?")
_GR3D = re.compile(r"\bGR3D(?:_FREQ)? (?:(\d+)%)?(?:@(?:\[([\d,]*)\]|(\d+)))?")
_TEMP = re.compile(r"(?<![\w.])([A-Za-z][\w]*)@(-?\d+(?:\.\d+)?)C(?:/-?\d+(?:\.\d+)?C)?")
_RAIL = re.compile(r"\b([A-Z][A-Z0-9_]*) (\d+)(?:mW)?/(\d+)(?:mW)?(?:/\d+(?:mW)?)?(?=\s|$)")
_ENGINE = re.compile(
    r"\b(NVENC\d?|NVDEC\d?|NVJPG\d?|MSENC|VIC|OFA|APE|NVDLA\d|DLA\d|PVA\d)(?:_FREQ)?"
    r" (off|(\d+)%@(\d+)|(\d+))(?=\s|$)"
)


@dataclass(frozen=True)
class CpuCore:
    index: int
    online: bool
    load: float | None = None  # 0..1
    frequency_hz: float | None = None


@dataclass(frozen=True)
class Engine:
    active: bool
    load: float | None = None  # 0..1
    frequency_hz: float | None = None


@dataclass
class TegraStats:
    ram_used_bytes: float | None = None
    ram_total_bytes: float | None = None
    lfb_blocks: int | None = None
    lfb_block_bytes: float | None = None
    swap_used_bytes: float | None = None
    swap_total_bytes: float | None = None
    swap_cached_bytes: float | None = None
    cpus: list[CpuCore] = field(default_factory=list)
    emc_load: float | None = None
    emc_frequency_hz: float | None = None
    gpu_load: float | None = None
    gpu_frequency_hz: float | None = None
    gpc_frequencies_hz: list[float] = field(default_factory=list)
    engines: dict[str, Engine] = field(default_factory=dict)
    temperatures: dict[str, float | None] = field(default_factory=dict)  # None = offline
    rails: dict[str, tuple[float, float]] = field(default_factory=dict)  # watts: now, average


def parse_line(line: str) -> TegraStats:
    """Every field found in ``line``; fields it does not have stay ``None`` / empty."""
    text = _TIMESTAMP.sub("", line.strip())
    stats = TegraStats()
    if m := _RAM.search(text):
        stats.ram_used_bytes, stats.ram_total_bytes = int(m[1]) * _MB, int(m[2]) * _MB
        if m[3]:
            stats.lfb_blocks = int(m[3])
            stats.lfb_block_bytes = int(m[4]) * _UNITS[m[5]]
    if m := _SWAP.search(text):
        stats.swap_used_bytes, stats.swap_total_bytes = int(m[1]) * _MB, int(m[2]) * _MB
        stats.swap_cached_bytes = int(m[3]) * _MB if m[3] else None
    if m := _CPU.search(text):
        stats.cpus = _cpus(m[1], m[2])
    if m := _EMC.search(text):
        stats.emc_load = int(m[1]) / 100
        stats.emc_frequency_hz = _mhz(m[2])
    if m := _GR3D.search(text):
        stats.gpu_load = int(m[1]) / 100 if m[1] else None
        if m[2]:
            stats.gpc_frequencies_hz = [int(f) * 1e6 for f in m[2].split(",") if f]
            stats.gpu_frequency_hz = max(stats.gpc_frequencies_hz, default=None)
        else:
            stats.gpu_frequency_hz = _mhz(m[3])
    for m in _ENGINE.finditer(text):
        stats.engines[_engine_name(m[1])] = _engine(m)
    for m in _TEMP.finditer(text):
        value = float(m[2])
        stats.temperatures[m[1].lower()] = None if value <= OFFLINE_C else value
    for m in _RAIL.finditer(text):
        if m[1] in ("RAM", "SWAP", "NC"):
            continue
        stats.rails[m[1].lower()] = (int(m[2]) / 1000, int(m[3]) / 1000)
    return stats


def _cpus(body: str, shared_mhz: str | None) -> list[CpuCore]:
    cores = []
    for index, part in enumerate(p.strip() for p in body.split(",")):
        if not part or part == "off":
            cores.append(CpuCore(index, online=False))
            continue
        load, _, mhz = part.partition("@")
        cores.append(CpuCore(index, True, int(load.rstrip("%")) / 100, _mhz(mhz or shared_mhz)))
    return cores


def _engine(m: re.Match[str]) -> Engine:
    if m[2] == "off":
        return Engine(active=False)
    if m[3] is not None:
        return Engine(True, int(m[3]) / 100, int(m[4]) * 1e6)
    return Engine(True, None, int(m[5]) * 1e6)


def _engine_name(raw: str) -> str:
    name = raw.lower()
    return "nvdla" + name[3:] if name.startswith("dla") else name


def _mhz(text: str | None) -> float | None:
    return int(text) * 1e6 if text else None
