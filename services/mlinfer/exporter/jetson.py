"""Jetson collector: a long-running ``tegrastats`` whose latest line becomes readings.

tegrastats prints one line per interval; a reader thread keeps only the newest, so a scrape
never waits on the tool. The integrated GPU appears under Triton's names with
``gpu_uuid="tegra"`` (the iGPU has no NVML UUID); its memory is the shared RAM.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading

from mlinfer.exporter.readings import CollectorUnavailable, Reading
from mlinfer.exporter.tegrastats import TegraStats, parse_line

log = logging.getLogger(__name__)
TEGRA_GPU = "tegra"


def readings_from(stats: TegraStats) -> list[Reading]:
    out: list[Reading] = []

    def add(name: str, value: float | None, **labels: str) -> None:
        if value is not None:
            out.append(Reading(name, float(value), labels))

    gpu = {"gpu_uuid": TEGRA_GPU}
    add("nv_gpu_utilization", stats.gpu_load, **gpu)
    add("nv_gpu_memory_used_bytes", stats.ram_used_bytes, **gpu)
    add("nv_gpu_memory_total_bytes", stats.ram_total_bytes, **gpu)
    add("mlinfer_device_clock_hertz", stats.gpu_frequency_hz, device="gpu", clock="gr3d")
    add("mlinfer_device_clock_hertz", stats.emc_frequency_hz, device="emc", clock="emc")
    for gpc, hz in enumerate(stats.gpc_frequencies_hz):
        add("mlinfer_device_gpc_frequency_hertz", hz, gpc=str(gpc))
    add("mlinfer_device_emc_utilization", stats.emc_load)
    add("mlinfer_device_ram_used_bytes", stats.ram_used_bytes)
    add("mlinfer_device_ram_total_bytes", stats.ram_total_bytes)
    add("mlinfer_device_ram_largest_free_block_bytes", stats.lfb_block_bytes)
    add("mlinfer_device_ram_largest_free_blocks", stats.lfb_blocks)
    add("mlinfer_device_swap_used_bytes", stats.swap_used_bytes)
    add("mlinfer_device_swap_total_bytes", stats.swap_total_bytes)
    add("mlinfer_device_swap_cached_bytes", stats.swap_cached_bytes)
    for core in stats.cpus:
        add("mlinfer_device_cpu_online", 1.0 if core.online else 0.0, core=str(core.index))
        add("mlinfer_device_cpu_utilization", core.load, core=str(core.index))
        add("mlinfer_device_cpu_frequency_hertz", core.frequency_hz, core=str(core.index))
    for name, engine in sorted(stats.engines.items()):
        add("mlinfer_device_engine_active", 1.0 if engine.active else 0.0, engine=name)
        add("mlinfer_device_engine_utilization", engine.load, engine=name)
        add("mlinfer_device_engine_frequency_hertz", engine.frequency_hz, engine=name)
    for sensor, celsius in sorted(stats.temperatures.items()):
        add("mlinfer_device_sensor_online", 0.0 if celsius is None else 1.0, sensor=sensor)
        add("mlinfer_device_temperature_celsius", celsius, sensor=sensor)
    for rail, (now, average) in sorted(stats.rails.items()):
        add("mlinfer_device_rail_power_watts", now, rail=rail)
        add("mlinfer_device_rail_power_average_watts", average, rail=rail)
    gpu_rail = next((stats.rails[r] for r in _GPU_RAILS if r in stats.rails), None)
    if gpu_rail is not None:
        add("nv_gpu_power_usage", gpu_rail[0], **gpu)
    return out


# The rail that feeds the GPU, by module: Orin AGX/NX (GPU with SoC), Xavier (GPU with CPU).
_GPU_RAILS = ("vdd_gpu_soc", "vdd_gpu", "gpu", "vdd_sys_gpu", "pom_5v_gpu", "vdd_cpu_gpu_cv")


class TegrastatsCollector:
    name = "tegrastats"

    def __init__(self, command: str = "tegrastats", interval_ms: int = 1000) -> None:
        self._command = command
        self._interval_ms = interval_ms
        self._proc: subprocess.Popen[str] | None = None
        self._line: str | None = None
        self._lock = threading.Lock()

    def collect(self) -> list[Reading]:
        self._ensure_running()
        with self._lock:
            line = self._line
        if line is None:
            return []  # started, first line not printed yet
        return readings_from(parse_line(line))

    def _ensure_running(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            return
        binary = shutil.which(self._command)
        if binary is None:
            raise CollectorUnavailable(f"'{self._command}' not found: not a Jetson")
        self._proc = subprocess.Popen(
            [binary, "--interval", str(self._interval_ms)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        threading.Thread(target=self._read, args=(self._proc,), daemon=True).start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            with self._lock:
                self._line = line

    def close(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(timeout=5)
