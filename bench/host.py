"""The benchmark host: background CPU load, process trees, and the code version servers ran."""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def psutil_module() -> Any:
    """psutil, typed loosely (no stubs are installed for it)."""
    return importlib.import_module("psutil")


def code_version(root: Path) -> str:
    """``git describe --always --dirty`` of the checkout the servers run from ('' if unknown)."""
    import subprocess

    try:
        proc = subprocess.run(
            ["git", "-C", str(root), "describe", "--always", "--dirty", "--abbrev=12"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return proc.stdout.strip() if proc.returncode == 0 else ""


@dataclass(frozen=True)
class CpuUsage:
    seconds: float
    busy_percent: float
    """Machine-wide CPU use, % of all cores."""
    own_percent: float
    """The watched process trees (server and client)."""

    @property
    def background_percent(self) -> float:
        """Everything else that ran meanwhile (other users of the machine)."""
        return max(self.busy_percent - self.own_percent, 0.0)


def _tree_cpu_s(pids: Sequence[int]) -> float:
    psutil = psutil_module()
    total = 0.0
    for pid in pids:
        try:
            root = psutil.Process(pid)
            times = root.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
            for child in root.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    ct = child.cpu_times()
                    total += ct.user + ct.system
        except psutil.Error:
            continue
    return total


def _busy_s() -> float:
    psutil = psutil_module()
    t = psutil.cpu_times()
    fields = ("user", "system", "nice", "irq", "softirq", "steal")
    return float(sum(getattr(t, f) for f in fields if hasattr(t, f)))


class CpuMeter:
    """CPU used machine-wide and by some process trees between ``start`` and ``stop``.

    Children that exited and were waited for count in their parent's figures (how a finished
    ``perf_analyzer`` shows up under the process that ran it).
    """

    def __init__(self, pids: Sequence[int]) -> None:
        self.pids = list(pids)
        self._t0 = self._busy0 = self._own0 = 0.0

    def start(self) -> CpuMeter:
        self._t0, self._busy0, self._own0 = time.monotonic(), _busy_s(), _tree_cpu_s(self.pids)
        return self

    def stop(self) -> CpuUsage:
        elapsed = max(time.monotonic() - self._t0, 1e-9)
        cores = os.cpu_count() or 1
        busy = _busy_s() - self._busy0
        own = _tree_cpu_s(self.pids) - self._own0
        return CpuUsage(
            seconds=elapsed,
            busy_percent=100.0 * busy / (elapsed * cores),
            own_percent=100.0 * own / (elapsed * cores),
        )


def wait_for_quiet(
    threshold_percent: float = 10.0,
    max_wait_s: float = 60.0,
    sample_s: float = 1.0,
    exclude: Sequence[int] = (),
) -> float:
    """Sample background CPU until it is below ``threshold_percent`` (or time runs out).

    Returns the last sample: other users of a shared machine skew a benchmark, so the driver
    waits for a quiet moment and records what the load was.
    """
    deadline = time.monotonic() + max_wait_s
    while True:
        meter = CpuMeter(list(exclude)).start()
        time.sleep(sample_s)
        background = meter.stop().background_percent
        if background <= threshold_percent or time.monotonic() >= deadline:
            return background
