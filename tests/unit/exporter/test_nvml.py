"""The NVML collector for real: on a GPU machine (marker ``gpu``), and its absence here.

Recorded run on the team's H200 machine: ``tests/unit/exporter/data/nvml_h200.txt``
(``PYTHONPATH=services python3 bench/nvml_probe.py``).
"""

from __future__ import annotations

import pytest

from mlinfer.exporter.nvml import THROTTLING, NvmlCollector, decode_reasons
from mlinfer.exporter.readings import CollectorUnavailable, check_known


def _nvml_works() -> bool:
    try:
        import pynvml

        pynvml.nvmlInit()
        pynvml.nvmlShutdown()
        return True
    except Exception:
        return False


def test_throttle_reasons_decode_by_name() -> None:
    # 0x24 = sw_power_cap | sw_thermal_slowdown, as NVML reports them together.
    reasons = decode_reasons(0x24)
    assert {r for r, on in reasons.items() if on} == {"sw_power_cap", "sw_thermal_slowdown"}
    assert "sw_power_cap" not in THROTTLING and "sw_thermal_slowdown" in THROTTLING


def test_without_nvml_the_collector_is_unavailable_not_broken() -> None:
    if _nvml_works():
        pytest.skip("NVML works here: the GPU test covers this machine")
    collector = NvmlCollector(["mlinfer"])
    with pytest.raises(CollectorUnavailable, match=r"NVML unavailable|nvidia-ml-py"):
        collector.collect()
    collector.close()


@pytest.mark.gpu
def test_nvml_collector_reads_a_real_gpu() -> None:
    if not _nvml_works():
        pytest.skip("needs an NVIDIA GPU with its driver (NVML); none on this machine")
    collector = NvmlCollector(["python3", "python"])
    try:
        readings = check_known(collector.collect())
    finally:
        collector.close()
    names = {r.name for r in readings}
    assert {"nv_gpu_utilization", "nv_gpu_memory_total_bytes", "nv_gpu_memory_used_bytes",
            "nv_gpu_power_usage", "nv_gpu_power_limit", "nv_energy_consumption",
            "mlinfer_device_temperature_celsius", "mlinfer_device_clock_hertz",
            "mlinfer_device_throttled"} <= names  # fmt: skip
    util = [r.value for r in readings if r.name == "nv_gpu_utilization"]
    assert all(0.0 <= u <= 1.0 for u in util)
    total = [r.value for r in readings if r.name == "nv_gpu_memory_total_bytes"]
    assert all(t > 1e9 for t in total)
