"""What collectors produce: named readings with labels, and the one catalog of metric names.

Triton's names (``nv_gpu_*``, ``nv_energy_consumption``, label ``gpu_uuid``) are used where
Triton has a metric, so the dashboards written for Triton read this exporter unchanged, on
Jetson too where Triton itself has no GPU metrics; everything else is ``mlinfer_device_*``
(the device), ``mlinfer_host_*`` (the operating system's view) or ``mlinfer_process_*``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

GAUGE, COUNTER = "gauge", "counter"


@dataclass(frozen=True)
class Reading:
    name: str
    value: float
    labels: dict[str, str] = field(default_factory=dict)


class CollectorUnavailable(RuntimeError):
    """The source does not exist here (no NVML library, no tegrastats): not a fault."""


# name -> (type, help, label names)
METRICS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    # Triton's GPU metrics, Triton's labels and units.
    "nv_gpu_utilization": (GAUGE, "GPU utilization rate [0.0 - 1.0)", ("gpu_uuid",)),
    "nv_gpu_memory_total_bytes": (GAUGE, "GPU total memory, in bytes", ("gpu_uuid",)),
    "nv_gpu_memory_used_bytes": (GAUGE, "GPU used memory, in bytes", ("gpu_uuid",)),
    "nv_gpu_power_usage": (GAUGE, "GPU power usage in watts", ("gpu_uuid",)),
    "nv_gpu_power_limit": (GAUGE, "GPU power management limit in watts", ("gpu_uuid",)),
    "nv_energy_consumption": (
        COUNTER,
        "GPU energy consumption in joules since the driver loaded",
        ("gpu_uuid",),
    ),
    # Device: temperatures, clocks, throttling, rails, memory controller, engines.
    "mlinfer_device_temperature_celsius": (
        GAUGE, "Temperature of an online sensor", ("sensor",)),
    "mlinfer_device_sensor_online": (
        GAUGE, "1 if the sensor reports, 0 if offline (tegrastats -256C)", ("sensor",)),
    "mlinfer_device_thermal_trip_celsius": (
        GAUGE, "Trip point of a thermal zone", ("sensor", "trip", "type")),
    "mlinfer_device_clock_hertz": (GAUGE, "Current clock of a device unit", ("device", "clock")),
    "mlinfer_device_clock_max_hertz": (
        GAUGE, "Highest clock the unit may run at now", ("device", "clock")),
    "mlinfer_device_throttled": (
        GAUGE, "1 while a thermal or hardware slowdown holds the device's clocks down",
        ("device",)),
    "mlinfer_device_throttle_reason": (
        GAUGE, "1 while this clock-limiting reason is active", ("device", "reason")),
    "mlinfer_device_gpc_frequency_hertz": (
        GAUGE, "Jetson GPU frequency per GPC (graphics processing cluster)", ("gpc",)),
    "mlinfer_device_rail_power_watts": (GAUGE, "Power rail, current reading", ("rail",)),
    "mlinfer_device_rail_power_average_watts": (GAUGE, "Power rail, running average", ("rail",)),
    "mlinfer_device_emc_utilization": (GAUGE, "External memory controller load [0, 1]", ()),
    "mlinfer_device_engine_active": (
        GAUGE, "1 if the engine (DLA, NVENC, NVDEC, VIC, ...) is powered", ("engine",)),
    "mlinfer_device_engine_utilization": (GAUGE, "Engine load [0, 1]", ("engine",)),
    "mlinfer_device_engine_frequency_hertz": (GAUGE, "Engine clock", ("engine",)),
    "mlinfer_device_cpu_utilization": (GAUGE, "Per-core CPU load [0, 1]", ("core",)),
    "mlinfer_device_cpu_frequency_hertz": (GAUGE, "Per-core CPU clock", ("core",)),
    "mlinfer_device_cpu_online": (GAUGE, "1 if the core is online", ("core",)),
    "mlinfer_device_ram_used_bytes": (GAUGE, "Jetson RAM in use (shared by CPU and GPU)", ()),
    "mlinfer_device_ram_total_bytes": (GAUGE, "Jetson RAM total", ()),
    "mlinfer_device_ram_largest_free_block_bytes": (
        GAUGE, "Size of the largest free contiguous blocks (lfb)", ()),
    "mlinfer_device_ram_largest_free_blocks": (GAUGE, "Number of largest free blocks (lfb)", ()),
    "mlinfer_device_swap_used_bytes": (GAUGE, "Swap in use", ()),
    "mlinfer_device_swap_total_bytes": (GAUGE, "Swap total", ()),
    "mlinfer_device_swap_cached_bytes": (GAUGE, "Swap cache", ()),
    "mlinfer_device_nvpmodel_mode": (
        GAUGE, "1 for the active nvpmodel power mode", ("mode_id", "mode")),
    "mlinfer_device_process_gpu_memory_bytes": (
        GAUGE, "GPU memory used by a serving process", ("gpu_uuid", "process", "pid")),
    # Host and serving processes (psutil).
    "mlinfer_host_cpu_utilization": (GAUGE, "Host CPU utilization [0, 1]", ()),
    "mlinfer_host_memory_total_bytes": (GAUGE, "Host memory total", ()),
    "mlinfer_host_memory_available_bytes": (GAUGE, "Host memory available to new work", ()),
    "mlinfer_host_disk_used_bytes": (GAUGE, "Disk space used", ("mountpoint",)),
    "mlinfer_host_disk_total_bytes": (GAUGE, "Disk space total", ("mountpoint",)),
    "mlinfer_process_resident_memory_bytes": (
        GAUGE, "Resident memory of a serving process (mlinfer, tritonserver)", ("process", "pid")),
}  # fmt: skip

UP_METRIC = "mlinfer_exporter_collector_up"
DURATION_METRIC = "mlinfer_exporter_collector_duration_seconds"


def check_known(readings: list[Reading]) -> list[Reading]:
    """Readings whose name is in the catalog with its label names; raises otherwise (a bug)."""
    for r in readings:
        entry = METRICS.get(r.name)
        if entry is None or tuple(sorted(r.labels)) != tuple(sorted(entry[2])):
            raise ValueError(f"reading {r.name}{r.labels} does not match the metric catalog")
    return readings
