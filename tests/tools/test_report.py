"""docs/PERFORMANCE.md rendering: ratios, verdicts, failures shown in place."""

from __future__ import annotations

from typing import Any

from bench.measure import new_row
from bench.report import render


def _row(**fields: Any) -> dict[str, Any]:
    return new_row(background_cpu_pct=0.0, **fields)


def _doc() -> dict[str, Any]:
    model = {
        "name": "custom_cnn",
        "title": "Custom CNN",
        "description": "a CNN",
        "gmacs": 0.24,
        "params_m": 0.39,
        "onnx_mb": 1.6,
        "max_batch_size": 16,
        "preferred_batch_sizes": [4, 8, 16],
        "max_queue_delay_us": 1000,
        "instances": 2,
        "intra_op_threads": 1,
        "target": {"title": "Custom CNN", "requests_per_s": 800, "batch": 8, "latency_ms": 25},
    }
    embedded = dict(section="embedded", model="custom_cnn", server="mlinfer", tool="perf_analyzer")
    small = dict(section="small", model="simple", server="mlinfer", tool="perf_analyzer")
    triton = dict(section="triton", tool="perf_analyzer")
    rows = [
        _row(section="ceiling", model="custom_cnn", infer_per_s=500.0, batch_size=8, p50_ms=20.0),
        # the machine drifted: the checks next to the server measurements are what count
        _row(section="ceiling-check", model="custom_cnn", infer_per_s=390.0, batching="before"),
        _row(section="ceiling-check", model="custom_cnn", infer_per_s=410.0, batching="after"),
        _row(
            **embedded,
            protocol="http",
            encoding="binary",
            concurrency=8,
            infer_per_s=380.0,
            p50_ms=21.0,
            p99_ms=30.0,
        ),
        _row(
            **embedded,
            protocol="grpc",
            encoding="protobuf",
            concurrency=8,
            error="PerfAnalyzerError: boom\nsecond line | pipe",
        ),
        _row(
            **embedded,
            protocol="http",
            encoding="binary",
            concurrency=32,
            infer_per_s=300.0,
            p50_ms=100.0,
            p99_ms=150.0,
        ),
        _row(
            section="batching",
            model="custom_cnn_nobatch",
            server="mlinfer",
            tool="perf_analyzer",
            protocol="http",
            encoding="binary",
            concurrency=32,
            infer_per_s=150.0,
            p50_ms=200.0,
        ),
        _row(
            **small,
            protocol="http",
            encoding="binary",
            concurrency=1,
            infer_per_s=1000.0,
            requests_per_s=1000.0,
            p50_ms=0.5,
        ),
        _row(
            **triton,
            server="triton",
            model="simple",
            protocol="http",
            concurrency=1,
            infer_per_s=2000.0,
            requests_per_s=2000.0,
            p50_ms=0.4,
        ),
        _row(
            **triton,
            server="mlinfer->triton",
            model="simple",
            protocol="http",
            concurrency=1,
            infer_per_s=1900.0,
            requests_per_s=1900.0,
            p50_ms=0.6,
        ),
        _row(section="memory", model="all sample models", server="mlinfer", rss_mb=300.0),
        _row(section="memory", model="image_cnn x1 instances", server="mlinfer", rss_mb=200.0),
        _row(section="memory", model="image_cnn x4 instances", server="mlinfer", rss_mb=230.0),
    ]
    return {
        "date": "2026-01-01T00:00:00+00:00",
        "machine": {"cpu_model": "Test CPU", "logical_cpus": 2, "packages": {"numpy": "1"}},
        "models": [model],
        "rows": rows,
        "servers": {"mlinfer": "mlinfer serve ..."},
        "notes": ["Triton comparison skipped: not here"],
    }


def test_ratios_and_verdicts_come_from_the_rows() -> None:
    text = render(_doc(), "bench/results/x/results.json")
    assert "Test CPU" in text and "bench/results/x/results.json" in text
    # ceiling: mean of the adjacent checks (400); 380 / 400 = 0.95 met; 300 / 400 = 0.75 not
    ceiling = "400.0 (adjacent checks, range 390.0-410.0)"
    assert f"| Custom CNN | 8 | http | 380.0 | {ceiling} | 0.95 | **met**" in text
    assert (
        f"| Custom CNN | 32 | http | 300.0 | {ceiling} | 0.75 | **not met** (0.15 short) |" in text
    )
    assert "2.00x" in text  # batching 300 vs 150
    assert "+0.20" in text  # added p50 through the front (0.6 - 0.4)
    assert "0.50x" in text  # small-request rate vs Triton
    assert "each extra `image_cnn` instance: **10.0 MB**" in text
    assert "Triton comparison skipped: not here" in text


def test_failures_stay_inside_their_table_cell() -> None:
    text = render(_doc())
    line = next(li for li in text.splitlines() if "| Custom CNN | 8 | grpc |" in li)
    assert "failed: PerfAnalyzerError: boom second line \\| pipe" in line


def test_an_empty_run_still_renders() -> None:
    text = render({"rows": [], "models": []})
    assert text.startswith("# Performance")
    assert "Not measured in this run" in text
