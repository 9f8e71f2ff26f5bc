"""Every metric the dashboards and alert rules use is one that mlinfer or Triton exports.

The exported names come from a real `mlinfer serve` on the generated sample repository,
after one inference (so that the per-model series exist), scraped from GET /metrics. The
few names only other exporters produce are listed below, each with the reason.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from mlinfer.autoscaler.service import AutoscalerMetrics
from mlinfer.exporter.readings import DURATION_METRIC, UP_METRIC
from mlinfer.exporter.readings import METRICS as EXPORTER_METRICS
from tests.layer.layerlib import find_tool
from tests.layer.promql import DASHBOARDS, dashboard_expressions, metric_names, used_metric_names

# Exported by Triton, not by mlinfer's engine: Triton's DCGM-based GPU metrics on machines
# with an NVIDIA GPU (the compose gpu profile; Jetson has no DCGM), and its host metrics.
TRITON_ONLY = {
    "nv_gpu_utilization": "Triton GPU metrics (DCGM), NVIDIA GPU hosts only",
    "nv_gpu_memory_total_bytes": "Triton GPU metrics (DCGM), NVIDIA GPU hosts only",
    "nv_gpu_memory_used_bytes": "Triton GPU metrics (DCGM), NVIDIA GPU hosts only",
    "nv_gpu_power_usage": "Triton GPU metrics (DCGM), NVIDIA GPU hosts only",
    "nv_gpu_power_limit": "Triton GPU metrics (DCGM), NVIDIA GPU hosts only",
    "nv_energy_consumption": "Triton GPU metrics (DCGM), NVIDIA GPU hosts only",
    "nv_cpu_utilization": "Triton host metrics (TRITON_ENABLE_METRICS_CPU)",
    "nv_cpu_memory_total_bytes": "Triton host metrics (TRITON_ENABLE_METRICS_CPU)",
    "nv_cpu_memory_used_bytes": "Triton host metrics (TRITON_ENABLE_METRICS_CPU)",
}
# Exported by `mlinfer exporter` (its own process and port): the names its collectors
# declare (they produce a series only where their source exists, NVML or tegrastats).
EXPORTER = set(EXPORTER_METRICS) | {UP_METRIC, DURATION_METRIC}


def _autoscaler_names() -> set[str]:
    """What `mlinfer autoscaler` exposes on its own port: its metrics, with one sample each."""
    registry = CollectorRegistry()
    metrics = AutoscalerMetrics(registry)
    metrics.desired.labels("m").set(1)
    metrics.current.labels("m").set(1)
    metrics.decisions.labels("m", "up", "queue").inc()
    metrics.failures.labels("scale").inc()
    return exposition_names(generate_latest(registry).decode())


# Made by Prometheus itself for every scrape target.
PROMETHEUS = {"up": "Prometheus: 1 when the last scrape of a target succeeded"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str, timeout: float = 5) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


def _post(url: str, body: dict) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


_NUMERIC = {
    "BOOL",
    "UINT8",
    "UINT16",
    "UINT32",
    "UINT64",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "FP16",
    "FP32",
    "FP64",
}


def _one_inference(base: str) -> str:
    """Infer once on the first model with numeric inputs; returns its name."""
    status, body = _post(f"{base}/v2/repository/index", {})
    assert status == 200, body
    for entry in json.loads(body):
        if entry.get("state") != "READY":
            continue
        status, body = _get(f"{base}/v2/models/{entry['name']}")
        metadata = json.loads(body)
        if status != 200 or not all(i["datatype"] in _NUMERIC for i in metadata["inputs"]):
            continue
        inputs = []
        for tensor in metadata["inputs"]:
            shape = [1 if d < 0 else d for d in tensor["shape"]]
            count = 1
            for d in shape:
                count *= d
            value = False if tensor["datatype"] == "BOOL" else 0
            inputs.append(
                {
                    "name": tensor["name"],
                    "datatype": tensor["datatype"],
                    "shape": shape,
                    "data": [value] * count,
                }
            )
        status, body = _post(f"{base}/v2/models/{entry['name']}/infer", {"inputs": inputs})
        assert status == 200, body
        return str(entry["name"])
    raise AssertionError("no ready model with numeric inputs to infer on")


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[set[str]]:
    """Names on GET /metrics of a running `mlinfer serve`, after one inference."""
    mlinfer = find_tool("mlinfer")
    if mlinfer is None:
        pytest.fail("the mlinfer console script is not installed (scripts/bootstrap.sh)")
    workdir: Path = tmp_path_factory.mktemp("serve")
    repo = workdir / "repo"
    generate = subprocess.run(
        [mlinfer, "models", "generate", "--output", str(repo)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert generate.returncode == 0, generate.stdout + generate.stderr
    http_port, grpc_port = _free_port(), _free_port()
    log = (workdir / "serve.log").open("w")
    process = subprocess.Popen(
        [
            mlinfer,
            "serve",
            "--host",
            "127.0.0.1",
            "--http-port",
            str(http_port),
            "--grpc-port",
            str(grpc_port),
            "--model-repository",
            str(repo),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        # No credentials needed to read /metrics; inference without them needs auth off.
        env={**os.environ, "MLINFER_AUTH_MODE": "disabled"},
    )
    base = f"http://127.0.0.1:{http_port}"
    try:
        deadline = time.monotonic() + 180
        while _get(f"{base}/v2/health/ready", timeout=2)[0] != 200:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    "mlinfer serve did not become ready:\n"
                    + (workdir / "serve.log").read_text()[-4000:]
                )
            time.sleep(0.5)
        _one_inference(base)
        status, body = _get(f"{base}/metrics")
        assert status == 200, body
        yield exposition_names(body.decode())
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def exposition_names(text: str) -> set[str]:
    """Metric family names (# TYPE) and sample names of the Prometheus text format."""
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            names.add(line.split()[2])
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{\s]", line, maxsplit=1)[0])
    return names


def test_metric_name_extraction() -> None:
    assert metric_names(
        'sum by (job, model) (rate(nv_inference_request_duration_us{job=~"$job"}[5m]))'
        " / sum by (job, model) (rate(nv_inference_request_success[$__rate_interval])) / 1000 > 250"
    ) == {"nv_inference_request_duration_us", "nv_inference_request_success"}
    assert metric_names("up == 0") == {"up"}
    assert metric_names(
        "(max by (job, model) (max_over_time(a_total[1h])) unless max by (job, model) (b))"
        " unless on (job) (max by (job) (up) == 0)"
    ) == {"a_total", "b", "up"}
    assert metric_names("x / on (instance) group_left (gpu) y offset 5m") == {"x", "y"}


def test_dashboards_and_alerts_use_exported_metrics(exported: set[str]) -> None:
    used = used_metric_names()
    assert "nv_inference_request_success" in used  # the extraction found the queries
    assert "nv_inference_request_success" in exported  # and the server its metrics
    allowed = exported | set(TRITON_ONLY) | EXPORTER | _autoscaler_names() | set(PROMETHEUS)
    unknown = {name: sorted(where) for name, where in used.items() if name not in allowed}
    assert not unknown, "metrics nobody exports:\n" + "\n".join(
        f"  {name}: {where}" for name, where in sorted(unknown.items())
    )


def test_allowlists_are_in_use(exported: set[str]) -> None:
    """Each listed exception is used somewhere and not (or no longer) exported by mlinfer."""
    used = used_metric_names()
    for name in [*TRITON_ONLY, *PROMETHEUS]:
        assert name in used, f"{name} is allowlisted but unused: drop it from the list"
    stale = [name for name in TRITON_ONLY if name in exported]
    assert not stale, f"mlinfer exports {stale} now: drop them from the lists"


GPU_ONLY = [name for name, why in TRITON_ONLY.items() if "GPU" in why]


def test_dashboard_descriptions_name_the_gpu_only_triton_series() -> None:
    """An operator on Jetson reads why a panel is empty: every dashboard's description lists
    Triton's GPU-only series, and every panel that queries one says where it comes from."""
    assert GPU_ONLY
    for path in sorted(DASHBOARDS.glob("*.json")):
        dashboard = json.loads(path.read_text())
        missing = [name for name in GPU_ONLY if name not in dashboard["description"]]
        assert not missing, f"{path.name}: description does not name {missing}"
        for panel in dashboard["panels"]:
            queried = {n for t in panel.get("targets", []) for n in metric_names(t["expr"])}
            for name in sorted(queried & set(GPU_ONLY)):
                description = panel.get("description", "")
                assert name in description and "Jetson" in description, (
                    f"{path.name}: panel {panel['title']!r} queries {name} without saying "
                    "that Triton has it only with a GPU (and where it comes from on Jetson)"
                )


# Series that two jobs report for one device (Triton and mlinfer exporter on a GPU host).
_SUMMED = re.compile(r"\bsum\s+by\s*\(([^)]*)\)\s*\((?:rate|increase|irate)?\(?\s*(\w+)")


def summed_across_sources(expr: str) -> list[str]:
    """GPU-only series that an expression adds up over jobs: `sum by (labels)` whose labels
    keep neither job nor instance (the same GPU from two sources would count twice)."""
    found = []
    for labels, metric in _SUMMED.findall(expr):
        kept = {label.strip() for label in labels.split(",")}
        if metric in GPU_ONLY and not kept & {"job", "instance"}:
            found.append(metric)
    return found


def test_summed_across_sources_detects_a_double_count() -> None:
    assert summed_across_sources('sum by (gpu_uuid) (nv_gpu_memory_used_bytes{job=~"$job"})')
    assert summed_across_sources("sum by (gpu_uuid) (rate(nv_energy_consumption[5m]))")
    assert not summed_across_sources("max by (gpu_uuid) (nv_gpu_memory_used_bytes)")
    assert not summed_across_sources("sum by (job, gpu_uuid) (nv_gpu_memory_used_bytes)")
    assert not summed_across_sources("sum by (model) (rate(nv_inference_count[5m]))")


def test_gpu_series_are_never_added_across_sources() -> None:
    doubled = {
        f"{where}: {expr}": summed_across_sources(expr) for where, expr in dashboard_expressions()
    }
    doubled = {where: names for where, names in doubled.items() if names}
    assert not doubled, f"GPU series added over Triton and the exporter: {doubled}"
