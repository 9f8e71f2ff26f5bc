"""Traces run client -> mlinfer -> Triton in the compose stack: Triton exports OpenTelemetry
spans to the same Jaeger as mlinfer, with the flags the tests run against a real Triton."""

from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


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
