#!/usr/bin/env python3
"""Generate the Grafana dashboards in deploy/grafana/dashboards/ from the specs below.

    python deploy/grafana/build_dashboards.py           # rewrite the JSON files
    python deploy/grafana/build_dashboards.py --check   # exit 1 if they are out of date

A panel is one call (``timeseries(...)``, ``stat(...)``, ...) in a dashboard's list, so
adding one (for example the gateway's own metrics: auth failures, cache, rate limits,
admission queue, once they are in use) is a line or two here. tests/layer checks that the
committed JSON matches this file and that every metric the queries use is one that mlinfer
or Triton exports.

The per-model metrics are Triton's (nv_*), exported by Triton and by mlinfer's engine with
the labels ``model`` and ``version``: counters of requests, inferences and executions, and
cumulative microseconds (request, queue, compute input/infer/output). Rates of the
microsecond counters divided by rates of the request counter give mean times per request.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}

# Label selectors driven by the dashboard variables.
SEL = 'job=~"$job", model=~"$model"'
JOB = 'job=~"$job"'
RI = "$__rate_interval"


def rate(metric: str, sel: str = SEL, by: str = "model") -> str:
    return f"sum by ({by}) (rate({metric}{{{sel}}}[{RI}]))"


def per_request_ms(metric: str, by: str = "model") -> str:
    """Mean time per successful request, in milliseconds, from a microsecond counter."""
    return f"{rate(metric, by=by)} / {rate('nv_inference_request_success', by=by)} / 1000"


# --- panels -----------------------------------------------------------------------------


def _target(expr: str, legend: str = "", ref: str = "A", instant: bool = False) -> dict[str, Any]:
    target: dict[str, Any] = {"refId": ref, "datasource": DATASOURCE, "expr": expr}
    target["legendFormat"] = legend or "__auto"
    if instant:
        target["instant"] = True
        target["range"] = False
        target["format"] = "table"
    return target


def _targets(queries: list[tuple[str, str]], instant: bool = False) -> list[dict[str, Any]]:
    return [
        _target(expr, legend, chr(ord("A") + i), instant)
        for i, (expr, legend) in enumerate(queries)
    ]


def timeseries(
    title: str,
    queries: list[tuple[str, str]],
    unit: str = "short",
    w: int = 12,
    h: int = 8,
    stack: bool = False,
    description: str = "",
) -> dict[str, Any]:
    custom: dict[str, Any] = {
        "drawStyle": "line",
        "lineWidth": 1,
        "fillOpacity": 10,
        "showPoints": "never",
        "spanNulls": False,
    }
    if stack:
        custom["stacking"] = {"mode": "normal", "group": "A"}
        custom["fillOpacity"] = 40
    return {
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": _targets(queries),
        "fieldConfig": {"defaults": {"unit": unit, "custom": custom}, "overrides": []},
        "options": {
            "legend": {"displayMode": "table", "placement": "bottom", "calcs": ["mean", "max"]},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        "_size": (w, h),
    }


def stat(
    title: str,
    expr: str,
    unit: str = "short",
    w: int = 6,
    h: int = 4,
    thresholds: list[tuple[float, str]] | None = None,
    description: str = "",
) -> dict[str, Any]:
    steps = [{"color": "green", "value": None}]
    steps += [{"color": color, "value": value} for value, color in (thresholds or [])]
    return {
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": _targets([(expr, "")]),
        "fieldConfig": {
            "defaults": {"unit": unit, "thresholds": {"mode": "absolute", "steps": steps}},
            "overrides": [],
        },
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "value",
            "graphMode": "area",
            "textMode": "auto",
        },
        "_size": (w, h),
    }


def bargauge(
    title: str,
    expr: str,
    legend: str,
    unit: str = "short",
    w: int = 12,
    h: int = 8,
    description: str = "",
) -> dict[str, Any]:
    return {
        "type": "bargauge",
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": [_target(expr, legend, instant=True) | {"format": "time_series"}],
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {
            "orientation": "horizontal",
            "displayMode": "gradient",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        },
        "_size": (w, h),
    }


def piechart(
    title: str, expr: str, legend: str, w: int = 12, h: int = 8, description: str = ""
) -> dict[str, Any]:
    return {
        "type": "piechart",
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": [_target(expr, legend, instant=True) | {"format": "time_series"}],
        "fieldConfig": {"defaults": {"unit": "short"}, "overrides": []},
        "options": {
            "pieType": "donut",
            "legend": {
                "displayMode": "table",
                "placement": "right",
                "values": ["value", "percent"],
            },
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        },
        "_size": (w, h),
    }


def table(
    title: str, columns: list[tuple[str, str, str]], w: int = 24, h: int = 9, description: str = ""
) -> dict[str, Any]:
    """One row per model; columns are (header, instant query by model, unit)."""
    queries = [(expr, header) for header, expr, _unit in columns]
    renames = {f"Value #{chr(ord('A') + i)}": header for i, (header, _e, _u) in enumerate(columns)}
    overrides = [
        {
            "matcher": {"id": "byName", "options": header},
            "properties": [{"id": "unit", "value": unit}, {"id": "decimals", "value": 2}],
        }
        for header, _expr, unit in columns
    ]
    return {
        "type": "table",
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": _targets(queries, instant=True),
        "transformations": [
            {"id": "merge", "options": {}},
            {
                "id": "organize",
                "options": {"excludeByName": {"Time": True}, "renameByName": renames},
            },
        ],
        "fieldConfig": {"defaults": {}, "overrides": overrides},
        "options": {"showHeader": True, "sortBy": [{"displayName": columns[0][0], "desc": True}]},
        "_size": (w, h),
    }


def text(title: str, content: str, w: int = 24, h: int = 3) -> dict[str, Any]:
    return {
        "type": "text",
        "title": title,
        "options": {"mode": "markdown", "content": content},
        "_size": (w, h),
    }


def row(title: str) -> dict[str, Any]:
    return {"type": "row", "title": title, "collapsed": False, "panels": [], "_size": (24, 1)}


# --- dashboards -------------------------------------------------------------------------


def _variable(name: str, label: str, query: str, multi: bool) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        "definition": query,
        "refresh": 2,
        "sort": 1,
        "multi": multi,
        "includeAll": True,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
    }


MODEL_VARIABLES = [
    _variable("job", "Source", "label_values(nv_inference_request_success, job)", multi=True),
    _variable(
        "model",
        "Model",
        'label_values(nv_inference_request_success{job=~"$job"}, model)',
        multi=True,
    ),
]
GPU_VARIABLES = [
    _variable("job", "Source", "label_values(nv_gpu_utilization, job)", multi=True),
]
EXPORTER_VARIABLE = _variable(
    "exporter", "Exporter", "label_values(mlinfer_exporter_collector_up, job)", multi=True
)

# Triton's series that exist only on a host with an NVIDIA GPU and NVML/DCGM. Jetson has
# neither, so Triton never reports them there (mlinfer exporter does, under these names).
GPU_ONLY_TRITON = (
    "nv_gpu_utilization",
    "nv_gpu_memory_total_bytes",
    "nv_gpu_memory_used_bytes",
    "nv_gpu_power_usage",
    "nv_gpu_power_limit",
    "nv_energy_consumption",
)
GPU_ONLY_NOTE = (
    "Triton series that exist only with an NVIDIA GPU and NVML/DCGM, so never from Triton "
    f"on Jetson: {', '.join(GPU_ONLY_TRITON)} (mlinfer exporter reports them there). "
    "Empty there as well: nv_cpu_* (not in Triton 2.22)."
)


def _layout(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Place panels left to right, wrapping at Grafana's 24 columns."""
    x = y = row_height = 0
    placed = []
    for number, panel in enumerate(panels, start=1):
        w, h = panel.pop("_size")
        if x + w > 24:
            x, y, row_height = 0, y + row_height, 0
        panel = {"id": number, "gridPos": {"h": h, "w": w, "x": x, "y": y}} | panel
        if not panel.get("description"):
            panel.pop("description", None)
        placed.append(panel)
        x += w
        row_height = max(row_height, h)
    return placed


def dashboard(
    uid: str,
    title: str,
    description: str,
    variables: list[dict[str, Any]],
    panels: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["mlinfer"],
        "editable": False,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-1h", "to": "now"},
        "timepicker": {},
        "timezone": "",
        "annotations": {"list": []},
        "links": [
            {
                "title": "mlinfer",
                "type": "dashboards",
                "tags": ["mlinfer"],
                "asDropdown": True,
                "includeVars": True,
                "keepTime": True,
            }
        ],
        "templating": {"list": variables},
        "panels": _layout(panels),
    }


def inference_performance() -> dict[str, Any]:
    ok = "nv_inference_request_success"
    return dashboard(
        "mlinfer-inference-performance",
        "mlinfer / Inference performance",
        "Throughput and latency per model, from the nv_* metrics of Triton and mlinfer."
        " " + GPU_ONLY_NOTE,
        MODEL_VARIABLES,
        [
            stat("Requests / s", f"sum(rate({ok}{{{SEL}}}[{RI}]))", "reqps"),
            stat("Inferences / s", f"sum(rate(nv_inference_count{{{SEL}}}[{RI}]))", "short"),
            stat(
                "Mean latency",
                f"sum(rate(nv_inference_request_duration_us{{{SEL}}}[{RI}])) / "
                f"sum(rate({ok}{{{SEL}}}[{RI}])) / 1000",
                "ms",
                thresholds=[(100, "orange"), (250, "red")],
                description="Mean time per successful request: queue plus compute.",
            ),
            stat(
                "Pending requests",
                f"sum(nv_inference_pending_request_count{{{SEL}}})",
                "short",
                thresholds=[(8, "orange"), (32, "red")],
            ),
            timeseries(
                "Mean request latency by model",
                [(per_request_ms("nv_inference_request_duration_us"), "{{model}}")],
                "ms",
            ),
            timeseries(
                "Where the time goes (per request, all selected models)",
                [
                    (per_request_ms("nv_inference_queue_duration_us", by="job"), "queue"),
                    (
                        per_request_ms("nv_inference_compute_input_duration_us", by="job"),
                        "compute input",
                    ),
                    (
                        per_request_ms("nv_inference_compute_infer_duration_us", by="job"),
                        "compute infer",
                    ),
                    (
                        per_request_ms("nv_inference_compute_output_duration_us", by="job"),
                        "compute output",
                    ),
                ],
                "ms",
                stack=True,
            ),
            timeseries(
                "Inferences / s by model", [(rate("nv_inference_count"), "{{model}}")], "short"
            ),
            timeseries(
                "Average batch size by model",
                [
                    (
                        f"{rate('nv_inference_count')} / {rate('nv_inference_exec_count')}",
                        "{{model}}",
                    )
                ],
                "short",
                description="Inferences per execution: how well dynamic batching groups requests.",
            ),
            timeseries(
                "Pending requests by model",
                [(f"sum by (model) (nv_inference_pending_request_count{{{SEL}}})", "{{model}}")],
                "short",
                w=24,
            ),
        ],
    )


def gpu_utilization() -> dict[str, Any]:
    gsel = JOB
    xsel = 'job=~"$exporter"'
    gpu_note = (
        "Triton reports it only on a host with an NVIDIA GPU and NVML/DCGM (not on Jetson); "
        "mlinfer exporter reports it under the same name from NVML on x86 and from "
        'tegrastats/sysfs on Jetson (gpu_uuid="tegra"). Both sources of one GPU are '
        "merged per GPU, never added."
    )
    return dashboard(
        "mlinfer-gpu",
        "mlinfer / GPU utilization",
        "GPU, device and host telemetry from Triton and mlinfer exporter. " + GPU_ONLY_NOTE,
        [*GPU_VARIABLES, EXPORTER_VARIABLE],
        [
            text(
                "About these metrics",
                "The GPU panels use Triton's names, which exist only with an NVIDIA GPU and "
                f"NVML/DCGM: {', '.join(f'`{name}`' for name in GPU_ONLY_TRITON)}. On Jetson "
                "Triton has none of them (no DCGM, no NVML): there they come from "
                '`mlinfer exporter` (tegrastats and sysfs, `gpu_uuid="tegra"`), and a panel '
                "stays empty when the exporter does not run. Triton 2.22, on the appliance, "
                "has no host metrics either (`nv_cpu_*`). The device panels below are the "
                "exporter's own `mlinfer_device_*` and `mlinfer_host_*` series.",
                h=4,
            ),
            timeseries(
                "GPU utilization",
                [(f"max by (gpu_uuid) (nv_gpu_utilization{{{gsel}}})", "{{gpu_uuid}}")],
                "percentunit",
                description="nv_gpu_utilization. " + gpu_note,
            ),
            timeseries(
                "GPU memory used",
                [
                    (
                        f"max by (gpu_uuid) (nv_gpu_memory_used_bytes{{{gsel}}})",
                        "used {{gpu_uuid}}",
                    ),
                    (
                        f"max by (gpu_uuid) (nv_gpu_memory_total_bytes{{{gsel}}})",
                        "total {{gpu_uuid}}",
                    ),
                ],
                "bytes",
                description="nv_gpu_memory_used_bytes, nv_gpu_memory_total_bytes. "
                + gpu_note
                + " On Jetson the GPU's memory is the shared RAM (see Device memory).",
            ),
            timeseries(
                "GPU power",
                [
                    (f"max by (gpu_uuid) (nv_gpu_power_usage{{{gsel}}})", "usage {{gpu_uuid}}"),
                    (f"max by (gpu_uuid) (nv_gpu_power_limit{{{gsel}}})", "limit {{gpu_uuid}}"),
                ],
                "watt",
                description="nv_gpu_power_usage, nv_gpu_power_limit. "
                + gpu_note
                + " Jetson reports no power limit; its rails are under Power rails.",
            ),
            timeseries(
                "GPU energy (average power from the energy counter)",
                [
                    (
                        f"max by (gpu_uuid) (rate(nv_energy_consumption{{{gsel}}}[{RI}]))",
                        "{{gpu_uuid}}",
                    )
                ],
                "watt",
                description="nv_energy_consumption. " + gpu_note,
            ),
            row("Device (mlinfer exporter)"),
            timeseries(
                "Device temperature",
                [
                    (
                        f"max by (instance, sensor) (mlinfer_device_temperature_celsius{{{xsel}}})",
                        "{{instance}} {{sensor}}",
                    )
                ],
                "celsius",
                description="Every online sensor: tegrastats and thermal zones on Jetson "
                "(offline sensors, -256C, are left out), NVML's GPU temperature on x86. The "
                "autoscaler never adds an instance at or above its thermal limit (75 °C).",
            ),
            timeseries(
                "Throttling",
                [
                    (
                        f"max by (instance, device) (mlinfer_device_throttled{{{xsel}}})",
                        "{{instance}} {{device}}",
                    ),
                    (
                        f"max by (instance, device, reason) "
                        f"(mlinfer_device_throttle_reason{{{xsel}}})",
                        "{{instance}} {{device}} {{reason}}",
                    ),
                ],
                "short",
                description="1 while a thermal or power slowdown holds the clocks down "
                "(a thermal zone past its passive trip point on Jetson, NVML's clock-limiting "
                "reasons on x86).",
            ),
            timeseries(
                "GPU and memory-controller load (Jetson)",
                [
                    (
                        f'max by (instance) (nv_gpu_utilization{{{xsel}, gpu_uuid="tegra"}})',
                        "{{instance}} GPU",
                    ),
                    (
                        f"max by (instance) (mlinfer_device_emc_utilization{{{xsel}}})",
                        "{{instance}} EMC",
                    ),
                ],
                "percentunit",
                description="nv_gpu_utilization of the integrated GPU (GR3D) as mlinfer "
                "exporter reports it on Jetson, where Triton has no GPU metrics, and EMC (the "
                "memory controller every engine shares), both from tegrastats: a busy EMC "
                "with an idle GPU means the model waits on memory.",
            ),
            timeseries(
                "Power rails",
                [
                    (
                        f"max by (instance, rail) (mlinfer_device_rail_power_watts{{{xsel}}})",
                        "{{instance}} {{rail}}",
                    )
                ],
                "watt",
                description="Jetson's INA3221 rails from tegrastats (VDD_GPU_SOC, VDD_CPU_CV, "
                "VIN_SYS_5V0, ... by release), current readings.",
            ),
            timeseries(
                "Device memory",
                [
                    (
                        f"max by (instance) (mlinfer_device_ram_used_bytes{{{xsel}}})",
                        "{{instance}} RAM used (CPU + GPU)",
                    ),
                    (
                        f"max by (instance) (mlinfer_device_ram_total_bytes{{{xsel}}})",
                        "{{instance}} RAM total",
                    ),
                    (
                        f"max by (instance) (mlinfer_device_swap_used_bytes{{{xsel}}})",
                        "{{instance}} swap used",
                    ),
                    (
                        f"max by (instance) (mlinfer_host_memory_total_bytes{{{xsel}}}"
                        f" - mlinfer_host_memory_available_bytes{{{xsel}}})",
                        "{{instance}} host memory used",
                    ),
                ],
                "bytes",
                description="On Jetson the CPU and the GPU share the RAM (tegrastats RAM, "
                "swap); on any host, memory in use from psutil (total minus available).",
            ),
            timeseries(
                "Serving processes' memory",
                [
                    (
                        f"sum by (instance, process) "
                        f"(mlinfer_process_resident_memory_bytes{{{xsel}}})",
                        "{{instance}} {{process}} RSS",
                    ),
                    (
                        f"sum by (instance, process) "
                        f"(mlinfer_device_process_gpu_memory_bytes{{{xsel}}})",
                        "{{instance}} {{process}} GPU",
                    ),
                ],
                "bytes",
                description="Resident memory of the mlinfer services and tritonserver "
                "(psutil), and their GPU memory where NVML reports it (x86).",
            ),
            timeseries(
                "Clocks",
                [
                    (
                        f"max by (instance, device, clock) (mlinfer_device_clock_hertz{{{xsel}}})",
                        "{{instance}} {{device}} {{clock}}",
                    )
                ],
                "hertz",
                description="GPU, memory and engine clocks (devfreq on Jetson, NVML on x86).",
            ),
            table(
                "Power mode",
                [
                    (
                        "active",
                        f"max by (instance, mode_id, mode) "
                        f"(mlinfer_device_nvpmodel_mode{{{xsel}}})",
                        "short",
                    )
                ],
                w=12,
                h=8,
                description="The active nvpmodel power mode on Jetson (its id and name).",
            ),
            timeseries(
                "Exporter collectors",
                [
                    (
                        f"min by (instance, collector) (mlinfer_exporter_collector_up{{{xsel}}})",
                        "{{instance}} {{collector}}",
                    )
                ],
                "short",
                description="1 while a collector reads its source; 0 where the source is "
                "missing here (NVML on Jetson, tegrastats on x86) or stopped answering.",
            ),
            row("Host (Triton)"),
            timeseries(
                "Host CPU utilization (Triton)",
                [(f"avg by (job) (nv_cpu_utilization{{{gsel}}})", "{{job}}")],
                "percentunit",
                description="nv_cpu_utilization: Triton's host metrics, in newer Triton "
                "releases than the appliance's 2.22 (empty on the appliance; the exporter's "
                "Device memory panel covers it).",
            ),
            timeseries(
                "Host memory (Triton)",
                [
                    (f"sum by (job) (nv_cpu_memory_used_bytes{{{gsel}}})", "used"),
                    (f"sum by (job) (nv_cpu_memory_total_bytes{{{gsel}}})", "total"),
                ],
                "bytes",
                description="nv_cpu_memory_used_bytes, nv_cpu_memory_total_bytes: Triton's "
                "host metrics, not in the appliance's Triton 2.22.",
            ),
        ],
    )


def request_analytics() -> dict[str, Any]:
    ok, fail = "nv_inference_request_success", "nv_inference_request_failure"
    return dashboard(
        "mlinfer-request-analytics",
        "mlinfer / Request analytics",
        "Request volume, failures and the mix of models, and the services' processes."
        " " + GPU_ONLY_NOTE,
        MODEL_VARIABLES,
        [
            timeseries(
                "Successful requests / s by model", [(rate(ok), "{{model}}")], "reqps", stack=True
            ),
            timeseries(
                "Failed requests / s by model", [(rate(fail), "{{model}}")], "reqps", stack=True
            ),
            timeseries(
                "Error ratio by model",
                [(f"{rate(fail)} / ({rate(ok)} + {rate(fail)})", "{{model}}")],
                "percentunit",
            ),
            timeseries(
                "Inferences per request by model",
                [(f"{rate('nv_inference_count')} / {rate(ok)}", "{{model}}")],
                "short",
                description="Batch size clients send (1 = one sample per request).",
            ),
            piechart(
                "Requests by model (time range)",
                f"sum by (model) (increase({ok}{{{SEL}}}[$__range]))",
                "{{model}}",
            ),
            table(
                "Totals over the time range",
                [
                    ("Requests", f"sum by (model) (increase({ok}{{{SEL}}}[$__range]))", "short"),
                    ("Failures", f"sum by (model) (increase({fail}{{{SEL}}}[$__range]))", "short"),
                    (
                        "Inferences",
                        f"sum by (model) (increase(nv_inference_count{{{SEL}}}[$__range]))",
                        "short",
                    ),
                ],
                w=12,
                h=8,
            ),
            row("Processes"),
            timeseries(
                "CPU",
                [(f"sum by (job) (rate(process_cpu_seconds_total{{{JOB}}}[{RI}]))", "{{job}}")],
                "percentunit",
                w=8,
            ),
            timeseries(
                "Resident memory",
                [(f"sum by (job) (process_resident_memory_bytes{{{JOB}}})", "{{job}}")],
                "bytes",
                w=8,
            ),
            timeseries(
                "Open file descriptors",
                [(f"sum by (job) (process_open_fds{{{JOB}}})", "{{job}}")],
                "short",
                w=8,
            ),
        ],
    )


def model_comparison() -> dict[str, Any]:
    ok = "nv_inference_request_success"
    window = "[5m]"

    def by_model(metric: str) -> str:
        return f"sum by (model) (rate({metric}{{{SEL}}}{window}))"

    return dashboard(
        "mlinfer-model-comparison",
        "mlinfer / Model comparison",
        "The selected models side by side: traffic, latency, batching and errors. " + GPU_ONLY_NOTE,
        MODEL_VARIABLES,
        [
            table(
                "Models (last 5 minutes)",
                [
                    ("Requests / s", by_model(ok), "reqps"),
                    (
                        "Mean latency",
                        f"{by_model('nv_inference_request_duration_us')} / {by_model(ok)} / 1000",
                        "ms",
                    ),
                    (
                        "Queue share",
                        f"{by_model('nv_inference_queue_duration_us')} / "
                        f"{by_model('nv_inference_request_duration_us')}",
                        "percentunit",
                    ),
                    (
                        "Batch size",
                        f"{by_model('nv_inference_count')} / {by_model('nv_inference_exec_count')}",
                        "short",
                    ),
                    (
                        "Error ratio",
                        f"{by_model('nv_inference_request_failure')} / "
                        f"({by_model(ok)} + {by_model('nv_inference_request_failure')})",
                        "percentunit",
                    ),
                    (
                        "Pending",
                        f"sum by (model) (nv_inference_pending_request_count{{{SEL}}})",
                        "short",
                    ),
                ],
            ),
            bargauge(
                "Mean latency (last 5 minutes)",
                f"{by_model('nv_inference_request_duration_us')} / {by_model(ok)} / 1000",
                "{{model}}",
                "ms",
            ),
            bargauge(
                "Throughput (last 5 minutes)", by_model("nv_inference_count"), "{{model}}", "short"
            ),
            timeseries(
                "Compute time per execution by model",
                [
                    (
                        f"{rate('nv_inference_compute_infer_duration_us')} / "
                        f"{rate('nv_inference_exec_count')} / 1000",
                        "{{model}}",
                    )
                ],
                "ms",
                description="Model execution time per batch: the cost of the engine "
                "itself, without queueing.",
            ),
            timeseries(
                "Mean latency by model version",
                [
                    (
                        f"{rate('nv_inference_request_duration_us', by='model, version')} / "
                        f"{rate(ok, by='model, version')} / 1000",
                        "{{model}} v{{version}}",
                    )
                ],
                "ms",
                description="Compare versions of a model, for example before and after a rollout.",
            ),
        ],
    )


DASHBOARDS = {
    "inference-performance.json": inference_performance,
    "gpu-utilization.json": gpu_utilization,
    "request-analytics.json": request_analytics,
    "model-comparison.json": model_comparison,
}


def render() -> dict[str, str]:
    return {name: json.dumps(build(), indent=2) + "\n" for name, build in DASHBOARDS.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare, write nothing")
    args = parser.parse_args(argv)
    stale = []
    for name, content in render().items():
        path = OUT / name
        if path.exists() and path.read_text() == content:
            continue
        stale.append(name)
        if not args.check:
            path.write_text(content)
    if args.check and stale:
        print(
            "out of date (run deploy/grafana/build_dashboards.py): " + ", ".join(stale),
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
