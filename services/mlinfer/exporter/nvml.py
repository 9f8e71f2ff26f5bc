"""NVML collector (nvidia-ml-py) for x86 and discrete GPUs; Jetson has no NVML.

Per GPU: utilization, memory, power and limit, the energy counter, temperature, clocks,
clock-limiting reasons decoded by name, and GPU memory of the serving processes. A query a
GPU does not support is left out; the collector fails only when NVML itself is missing.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from mlinfer.exporter.host import serving_processes
from mlinfer.exporter.readings import CollectorUnavailable, Reading

log = logging.getLogger(__name__)

# NVML's clocks event (throttle) reason bits, as nvml.h defines them.
THROTTLE_REASONS: dict[int, str] = {
    0x1: "gpu_idle",
    0x2: "applications_clocks_setting",
    0x4: "sw_power_cap",
    0x8: "hw_slowdown",
    0x10: "sync_boost",
    0x20: "sw_thermal_slowdown",
    0x40: "hw_thermal_slowdown",
    0x80: "hw_power_brake_slowdown",
    0x100: "display_clock_setting",
}
# Reasons that mean "too hot or the board cannot feed it": the autoscaler backs off on these.
THROTTLING = {
    "hw_slowdown",
    "sw_thermal_slowdown",
    "hw_thermal_slowdown",
    "hw_power_brake_slowdown",
}


def decode_reasons(mask: int) -> dict[str, bool]:
    return {name: bool(mask & bit) for bit, name in THROTTLE_REASONS.items()}


class NvmlCollector:
    name = "nvml"

    def __init__(self, process_names: Sequence[str]) -> None:
        self._names = list(process_names)
        self._nvml: Any = None

    def _init(self) -> Any:
        if self._nvml is not None:
            return self._nvml
        try:
            import pynvml
        except ImportError:
            raise CollectorUnavailable(
                "nvidia-ml-py is not installed (pip install 'mlinfer[gpu-telemetry]')"
            ) from None
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as exc:
            raise CollectorUnavailable(f"NVML unavailable: {exc}") from None
        self._nvml = pynvml
        return pynvml

    def collect(self) -> list[Reading]:
        nv = self._init()
        out: list[Reading] = []
        processes = serving_processes(self._names) if self._names else {}
        for index in range(nv.nvmlDeviceGetCount()):
            out.extend(self._device(nv, index, processes))
        return out

    def _device(self, nv: Any, index: int, processes: dict[int, str]) -> list[Reading]:
        handle = nv.nvmlDeviceGetHandleByIndex(index)
        uuid = _text(nv.nvmlDeviceGetUUID(handle))
        gpu = {"gpu_uuid": uuid}
        out: list[Reading] = []

        def add(name: str, query: Callable[[], Any], scale: float = 1.0, **labels: str) -> Any:
            try:
                value = query()
            except nv.NVMLError as exc:  # not supported on this GPU / driver
                log.debug("NVML %s on GPU %d: %s", name, index, exc)
                return None
            out.append(Reading(name, float(value) * scale, labels or gpu))
            return value

        add("nv_gpu_utilization", lambda: nv.nvmlDeviceGetUtilizationRates(handle).gpu, 0.01)
        memory = _try(nv, lambda: nv.nvmlDeviceGetMemoryInfo(handle))
        if memory is not None:
            out.append(Reading("nv_gpu_memory_used_bytes", float(memory.used), gpu))
            out.append(Reading("nv_gpu_memory_total_bytes", float(memory.total), gpu))
        add("nv_gpu_power_usage", lambda: nv.nvmlDeviceGetPowerUsage(handle), 1e-3)
        add("nv_gpu_power_limit", lambda: nv.nvmlDeviceGetPowerManagementLimit(handle), 1e-3)
        add("nv_energy_consumption", lambda: nv.nvmlDeviceGetTotalEnergyConsumption(handle), 1e-3)
        add(
            "mlinfer_device_temperature_celsius",
            lambda: nv.nvmlDeviceGetTemperature(handle, nv.NVML_TEMPERATURE_GPU),
            sensor=f"gpu{index}",
        )
        for clock, kind in (
            ("sm", nv.NVML_CLOCK_SM),
            ("memory", nv.NVML_CLOCK_MEM),
            ("graphics", nv.NVML_CLOCK_GRAPHICS),
        ):
            labels = {"device": uuid, "clock": clock}
            add(
                "mlinfer_device_clock_hertz",
                partial(nv.nvmlDeviceGetClockInfo, handle, kind),
                1e6,
                **labels,
            )
            add(
                "mlinfer_device_clock_max_hertz",
                partial(nv.nvmlDeviceGetMaxClockInfo, handle, kind),
                1e6,
                **labels,
            )
        mask = _try(nv, lambda: _reasons(nv, handle))
        if mask is not None:
            reasons = decode_reasons(int(mask))
            for reason, active in reasons.items():
                out.append(
                    Reading(
                        "mlinfer_device_throttle_reason",
                        float(active),
                        {"device": uuid, "reason": reason},
                    )
                )
            throttled = any(reasons[r] for r in THROTTLING)
            out.append(Reading("mlinfer_device_throttled", float(throttled), {"device": uuid}))
        for proc in _try(nv, lambda: nv.nvmlDeviceGetComputeRunningProcesses(handle)) or []:
            name = processes.get(int(proc.pid))
            used = getattr(proc, "usedGpuMemory", None)
            if name is not None and used is not None:
                out.append(
                    Reading(
                        "mlinfer_device_process_gpu_memory_bytes",
                        float(used),
                        {**gpu, "process": name, "pid": str(proc.pid)},
                    )
                )
        return out

    def close(self) -> None:
        if self._nvml is not None:
            with contextlib.suppress(self._nvml.NVMLError):
                self._nvml.nvmlShutdown()
            self._nvml = None


def _reasons(nv: Any, handle: Any) -> int:
    # Renamed "clocks event reasons" in newer NVML; the throttle name stays as an alias.
    query = getattr(nv, "nvmlDeviceGetCurrentClocksEventReasons", None)
    query = query or nv.nvmlDeviceGetCurrentClocksThrottleReasons
    return int(query(handle))


def _try(nv: Any, query: Callable[[], Any]) -> Any:
    try:
        return query()
    except nv.NVMLError:
        return None


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
