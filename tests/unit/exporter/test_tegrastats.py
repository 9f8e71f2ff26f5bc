"""tegrastats lines in the documented formats of AGX Orin and Orin NX/Nano, L4T 35 and 36.

The lines follow the field layouts NVIDIA documents for tegrastats (values chosen here):
upper-case sensors and ``VIC_FREQ`` on L4T 35 AGX Orin, lower-case sensors and per-engine
``load%@MHz``/``off`` on L4T 36, the per-GPC clock array (``GR3D_FREQ 0%@[0,0]``) next to
the single clock (``GR3D_FREQ 61%@918``), ``-256C`` for offline sensors.
"""

from __future__ import annotations

import pytest

from mlinfer.exporter.jetson import readings_from
from mlinfer.exporter.readings import check_known
from mlinfer.exporter.tegrastats import parse_line

MB = 1024 * 1024

AGX_ORIN_L4T35 = (
    "11-04-2025 10:36:27 RAM 4321/62801MB (lfb 1759x4MB) SWAP 19/31400MB (cached 0MB) "
    "CPU [3%@729,0%@729,1%@729,0%@729,2%@1190,0%@1190,0%@1190,0%@1190,"
    "off,off,off,off] EMC_FREQ 0%@2133 GR3D_FREQ 0%@[0,0] VIC_FREQ 729 APE 174 "
    "CV0@-256C CPU@44.562C Tboard@32C SOC2@40.093C Tdiode@33C SOC0@41.093C CV1@-256C "
    "GPU@-256C tj@44.343C SOC1@41.25C CV2@-256C VDD_GPU_SOC 2340mW/2341mW "
    "VDD_CPU_CV 390mW/395mW VIN_SYS_5V0 4025mW/4030mW NC 0mW/0mW VDDQ_VDD2_1V8AO 301mW/301mW "
    "NC 0mW/0mW"
)
AGX_ORIN_L4T36 = (
    "05-09-2026 18:42:06 RAM 18207/62841MB (lfb 466x4MB) SWAP 86/31420MB (cached 2MB) "
    "CPU [14%@2188,5%@2112,8%@2035,14%@2201,46%@1267,47%@1267,2%@1267,10%@1267,"
    "4%@1036,5%@1036,6%@1036,10%@1036] EMC_FREQ 3%@2133 GR3D_FREQ 47%@[1300,1236] "
    "NVENC 79%@166 NVDEC off NVJPG off NVJPG1 off VIC 36%@115 OFA off NVDLA0 off "
    "NVDLA1 1408 PVA0_FREQ off APE 174 cpu@52.562C soc2@48.437C soc0@49.093C tj@52.562C "
    "soc1@49.656C gpu@50.1C VDD_GPU_SOC 2412mW/2400mW VDD_CPU_CV 1607mW/1580mW "
    "VIN_SYS_5V0 4707mW/4700mW"
)
ORIN_NX_L4T35 = (
    "RAM 5801/15388MB (lfb 12x1MB) SWAP 0/7694MB (cached 0MB) "
    "CPU [37%@729,22%@729,18%@729,20%@729,off,off,off,off] EMC_FREQ 61%@3199 "
    "GR3D_FREQ 61%@918 VIC_FREQ 115 APE 200 CPU@49.906C SOC2@48.875C SOC0@49.5C "
    "GPU@49.468C tj@50.062C SOC1@50.062C VDD_IN 9313mW/8535mW VDD_CPU_GPU_CV 2943mW/2101mW "
    "VDD_SOC 1731mW/1659mW"
)
ORIN_NANO_L4T36 = (
    "RAM 3162/7620MB (lfb 8x512kB) SWAP 0/3810MB (cached 0MB) "
    "CPU [1%@1510,0%@1510,2%@1510,0%@1510,1%@1510,0%@1510] EMC_FREQ 0% GR3D_FREQ 0%@[305] "
    "NVDEC off NVJPG off VIC off OFA off APE 200 cpu@50.031C/51.2C soc2@47.4C/48C "
    "gpu@49.6C/49.9C tj@50.031C/51.2C VDD_IN 4952mW/4952mW/5120mW "
    "VDD_CPU_GPU_CV 1013mW/1013mW/1100mW VDD_SOC 1544mW/1544mW/1600mW"
)
NANO_L4T32 = (
    "RAM 3468/3983MB (lfb 48x4MB) SWAP 873/8192MB (cached 295MB) cpu [17%,11%,65%,0%]@1734 "
    "EMC 1%@1600 APE 25 GR3D 39%@76 PLL@38C CPU@41.5C PMIC@100C GPU@39C AO@46C "
    "thermal@40.25C POM_5V_IN 3181/3181 POM_5V_GPU 40/40 POM_5V_CPU 598/598"
)


def test_agx_orin_l4t35_offline_sensors_per_gpc_clocks_and_rails() -> None:
    s = parse_line(AGX_ORIN_L4T35)
    assert (s.ram_used_bytes, s.ram_total_bytes) == (4321 * MB, 62801 * MB)
    assert (s.lfb_blocks, s.lfb_block_bytes) == (1759, 4 * MB)
    assert (s.swap_used_bytes, s.swap_cached_bytes) == (19 * MB, 0)
    assert len(s.cpus) == 12 and [c.online for c in s.cpus].count(False) == 4
    assert s.cpus[4].load == 0.02 and s.cpus[4].frequency_hz == 1190e6
    assert s.gpu_load == 0.0 and s.gpc_frequencies_hz == [0.0, 0.0]
    assert (s.emc_load, s.emc_frequency_hz) == (0.0, 2133e6)
    # -256C means the sensor is offline: reported as such, never as a temperature.
    assert s.temperatures["cv0"] is None and s.temperatures["gpu"] is None
    assert s.temperatures["cpu"] == 44.562 and s.temperatures["tboard"] == 32.0
    assert s.rails["vdd_gpu_soc"] == (2.34, 2.341)
    assert "nc" not in s.rails and len(s.rails) == 4
    assert s.engines["vic"].frequency_hz == 729e6 and s.engines["ape"].active


def test_agx_orin_l4t36_lower_case_sensors_and_engine_states() -> None:
    s = parse_line(AGX_ORIN_L4T36)
    assert s.gpu_load == 0.47
    assert s.gpc_frequencies_hz == [1300e6, 1236e6] and s.gpu_frequency_hz == 1300e6
    assert s.engines["nvenc"].load == 0.79 and s.engines["nvenc"].frequency_hz == 166e6
    assert s.engines["nvdec"].active is False and s.engines["nvdla0"].active is False
    assert s.engines["nvdla1"].frequency_hz == 1408e6
    assert s.engines["pva0"].active is False and s.engines["nvjpg1"].active is False
    assert set(s.temperatures) == {"cpu", "soc0", "soc1", "soc2", "tj", "gpu"}
    assert s.swap_cached_bytes == 2 * MB


def test_orin_nx_l4t35_single_gpu_clock_and_offline_cores() -> None:
    s = parse_line(ORIN_NX_L4T35)
    assert s.gpu_load == 0.61 and s.gpu_frequency_hz == 918e6 and s.gpc_frequencies_hz == []
    assert [c.online for c in s.cpus] == [True] * 4 + [False] * 4
    assert s.rails["vdd_in"] == (9.313, 8.535) and s.lfb_block_bytes == MB
    assert s.temperatures["gpu"] == 49.468


def test_orin_nano_l4t36_current_max_temperatures_and_three_value_rails() -> None:
    s = parse_line(ORIN_NANO_L4T36)
    assert s.temperatures["cpu"] == 50.031  # current, not the max after the slash
    assert s.rails["vdd_in"] == (4.952, 4.952)
    assert s.emc_load == 0.0 and s.emc_frequency_hz is None
    assert s.gpc_frequencies_hz == [305e6] and s.lfb_block_bytes == 512 * 1024
    assert s.engines["vic"].active is False


def test_oldest_spellings_still_parse() -> None:
    s = parse_line(NANO_L4T32)
    assert [c.load for c in s.cpus] == [0.17, 0.11, 0.65, 0.0]
    assert {c.frequency_hz for c in s.cpus} == {1734e6}
    assert (s.emc_load, s.gpu_load, s.gpu_frequency_hz) == (0.01, 0.39, 76e6)
    assert s.rails["pom_5v_gpu"] == (0.04, 0.04)


def test_clocks_only_gr3d_has_no_load() -> None:
    s = parse_line("RAM 4722/7844MB (lfb 1x512kB) EMC_FREQ 2%@1866 GR3D_FREQ @[1000,1000,1000]")
    assert s.gpu_load is None and s.gpc_frequencies_hz == [1000e6] * 3


def test_a_line_without_known_fields_gives_nothing_and_no_error() -> None:
    s = parse_line("tegrastats: permission denied")
    assert s.ram_used_bytes is None and not s.cpus and not s.rails and not s.temperatures


@pytest.mark.parametrize(
    "line", [AGX_ORIN_L4T35, AGX_ORIN_L4T36, ORIN_NX_L4T35, ORIN_NANO_L4T36, NANO_L4T32]
)
def test_readings_use_tritons_names_and_the_catalog(line: str) -> None:
    readings = check_known(readings_from(parse_line(line)))
    by_name = {(r.name, tuple(sorted(r.labels.items()))): r.value for r in readings}
    assert (("nv_gpu_memory_total_bytes", (("gpu_uuid", "tegra"),))) in by_name
    assert ("nv_gpu_utilization", (("gpu_uuid", "tegra"),)) in by_name
    online = {dict(k[1])["sensor"]: v for k, v in by_name.items()
              if k[0] == "mlinfer_device_sensor_online"}  # fmt: skip
    temps = {dict(k[1])["sensor"] for k in by_name if k[0] == "mlinfer_device_temperature_celsius"}
    assert temps == {s for s, up in online.items() if up == 1.0}


def test_offline_sensor_and_gpu_power_readings() -> None:
    readings = readings_from(parse_line(AGX_ORIN_L4T35))
    values = {(r.name, tuple(r.labels.values())): r.value for r in readings}
    assert values[("mlinfer_device_sensor_online", ("gpu",))] == 0.0
    assert ("mlinfer_device_temperature_celsius", ("gpu",)) not in values
    assert values[("nv_gpu_power_usage", ("tegra",))] == 2.34
    assert values[("mlinfer_device_gpc_frequency_hertz", ("1",))] == 0.0
