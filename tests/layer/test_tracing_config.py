"""Traces run client -> mlinfer -> Triton in the compose stack: Triton exports OpenTelemetry
spans to the same Jaeger as mlinfer, with the flags the tests run against a real Triton.

On the appliance Triton is meta-tegra-community's 2.22, which has no OpenTelemetry mode
(no --trace-config at all): its unit passes the file-trace options that version has, and
the bbappends build Triton with tracing, without which tritonserver refuses them."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from tests.layer.layerlib import LAYER, Recipe, unit_values
from tests.layer.test_overrides import distro_overrides

REPO = Path(__file__).resolve().parents[2]
TRITON_SERVICE = LAYER / "recipes-mlinfer/tritonserver-service/files"
# Triton 2.22's trace options (src/main.cc of r22.05; --trace-log-frequency since 22.02).
TRITON_222_TRACE_OPTIONS = {
    "--trace-file",
    "--trace-level",
    "--trace-rate",
    "--trace-log-frequency",
}


def _compose() -> dict[str, object]:
    doc = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    assert isinstance(doc, dict)
    return doc


def test_triton_exports_opentelemetry_traces_to_jaeger() -> None:
    services = _compose()["services"]
    assert isinstance(services, dict)
    jaeger = services["jaeger"]
    assert jaeger["environment"]["COLLECTOR_OTLP_ENABLED"] == "true"
    for name in ("triton-gpu", "triton-cpu"):
        flags = [f for f in services[name]["command"] if f.startswith("--trace-config=")]
        settings = dict(f.removeprefix("--trace-config=").split("=", 1) for f in flags)
        assert settings["mode"] == "opentelemetry", name
        assert settings["opentelemetry,url"] == "http://jaeger:4318/v1/traces", name
        assert settings["rate"].startswith("${TRITON_TRACE_RATE"), name
        assert settings["level"] == "TIMESTAMPS", name


def test_mlinfer_exports_to_the_same_jaeger() -> None:
    env = _compose()["x-mlinfer-env"]
    assert isinstance(env, dict)
    assert env["MLINFER_OTEL_EXPORTER"] == "otlp-grpc"
    assert env["MLINFER_OTEL_ENDPOINT"] == "jaeger:4317"


def test_appliance_triton_traces_with_the_options_its_version_has() -> None:
    (exec_start,) = unit_values(
        (TRITON_SERVICE / "tritonserver.service.in").read_text(), "ExecStart"
    )
    options = {word.split("=", 1)[0] for word in exec_start.split() if word.startswith("--trace")}
    assert options == TRITON_222_TRACE_OPTIONS, "Triton 2.22 has no --trace-config"
    env = (TRITON_SERVICE / "tritonserver.env.in").read_text()
    settings = dict(re.findall(r"^(TRITON_TRACE_\w+)=(.*)$", env, re.M))
    for name in ("FILE", "LEVEL", "RATE", "LOG_FREQUENCY"):
        assert f"${{TRITON_TRACE_{name}}}" in exec_start
    assert settings["TRITON_TRACE_LEVEL"] in {"OFF", "TIMESTAMPS", "TENSORS"}
    assert int(settings["TRITON_TRACE_RATE"]) >= 1
    # 0 would keep every trace in memory until Triton stops.
    assert int(settings["TRITON_TRACE_LOG_FREQUENCY"]) > 0
    # The file is where the unit may write: its LogsDirectory.
    (logs,) = unit_values((TRITON_SERVICE / "tritonserver.service.in").read_text(), "LogsDirectory")
    assert settings["TRITON_TRACE_FILE"].startswith(f"/var/log/{logs}/")


def test_appliance_triton_is_built_with_tracing() -> None:
    (override,) = distro_overrides(LAYER / "conf/distro/mlinfer.conf")
    for name in ("triton-server", "triton-core"):
        bbappend = Recipe.load(LAYER / f"recipes-devtools/triton/{name}_2.22.0.bbappend")
        enabled = bbappend.words_by_var("PACKAGECONFIG")[f"PACKAGECONFIG:append:{override}"]
        assert "tracing" in enabled, name
