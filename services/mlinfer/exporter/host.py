"""Host collector (psutil): CPU, memory, disk, and the resident memory of serving processes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import psutil

from mlinfer.exporter.readings import Reading


def serving_processes(names: Sequence[str]) -> dict[int, str]:
    """pid -> which of ``names`` it is: by process name, executable or ``-m <name>``."""
    wanted = set(names)
    found: dict[int, str] = {}
    for proc in psutil.process_iter(["pid", "name", "cmdline"]):
        info = proc.info
        match = _which(info.get("name") or "", info.get("cmdline") or [], wanted)
        if match is not None:
            found[int(info["pid"])] = match
    return found


def _which(name: str, cmdline: Iterable[str], wanted: set[str]) -> str | None:
    if name in wanted:
        return name
    args = list(cmdline)
    for i, arg in enumerate(args[:3]):  # the interpreter, the script or "-m", the module
        base = Path(arg).name
        if base in wanted:
            return base
        if arg == "-m" and i + 1 < len(args) and args[i + 1] in wanted:
            return args[i + 1]
    return None


class HostCollector:
    name = "host"

    def __init__(self, process_names: Sequence[str], mountpoints: Sequence[str]) -> None:
        self._names = list(process_names)
        self._mountpoints = list(mountpoints)
        psutil.cpu_percent(interval=None)  # the first call only starts the measurement

    def collect(self) -> list[Reading]:
        memory = psutil.virtual_memory()
        out = [
            Reading("mlinfer_host_cpu_utilization", psutil.cpu_percent(interval=None) / 100),
            Reading("mlinfer_host_memory_total_bytes", float(memory.total)),
            Reading("mlinfer_host_memory_available_bytes", float(memory.available)),
        ]
        for mount in self._mountpoints:
            try:
                usage = psutil.disk_usage(mount)
            except OSError:
                continue
            labels = {"mountpoint": mount}
            out.append(Reading("mlinfer_host_disk_used_bytes", float(usage.used), labels))
            out.append(Reading("mlinfer_host_disk_total_bytes", float(usage.total), labels))
        for pid, name in sorted(serving_processes(self._names).items()):
            try:
                rss = psutil.Process(pid).memory_info().rss
            except psutil.Error:
                continue  # it exited between the listing and the read
            out.append(
                Reading(
                    "mlinfer_process_resident_memory_bytes",
                    float(rss),
                    {"process": name, "pid": str(pid)},
                )
            )
        return out

    def close(self) -> None:
        pass
