from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mlinfer.optimizer.config import Budget, Profiling
from mlinfer.optimizer.data import Dataset
from mlinfer.optimizer.gate import evaluate
from mlinfer.optimizer.profile import profile_model
from mlinfer.optimizer.report import CandidateReport, Report

FAST = Profiling(seconds=0.05, min_runs=3, warmup_runs=1)


def test_profile_measures_each_batch_and_picks_the_best(digits_onnx: Path) -> None:
    data = Dataset({"pixels": np.zeros((4, 64), np.float32)}, None, "zeros")
    lines: list[str] = []
    result = profile_model(digits_onnx, data, [8, 4], FAST, threads=1, progress=lines.append)
    assert set(result.throughput_by_batch) == {1, 4, 8}  # batch 1 always, for latency
    assert result.throughput == max(result.throughput_by_batch.values())
    assert result.best_batch in (1, 4, 8)
    assert 0 < result.p50_ms <= result.p99_ms
    assert result.size_bytes == digits_onnx.stat().st_size
    assert result.peak_memory_mb >= 0
    assert len(lines) == 3 and "samples/s" in lines[0]


def _report(passed: bool) -> Report:
    ref = {"p": np.eye(4, dtype=np.float32)}
    cand = {"p": np.eye(4, dtype=np.float32) * 0.9}
    gate = evaluate(Budget(min_sqnr_db=40), ref, cand)
    report = Report(
        "m",
        "/x/m.onnx",
        "onnxruntime",
        [
            CandidateReport(
                "int8",
                "passed" if passed else "over budget",
                gate=gate,
                excluded_nodes=["Conv_3"],
                fallback_rounds=1,
            )
        ],
    )
    report.passed = passed
    report.reason = None if passed else "no candidate met the budget"
    return report


def test_report_json_and_markdown(tmp_path: Path) -> None:
    report = _report(passed=False)
    data = json.loads(report.to_json())
    candidate = data["candidates"][0]
    assert candidate["gate"]["passed"] is False and candidate["excluded_nodes"] == ["Conv_3"]
    assert "SQNR" in candidate["gate"]["reasons"][0]
    assert candidate["gate"]["outputs"][0]["cosine"] == 1.0  # scaling keeps the direction
    md = report.to_markdown()
    assert "NOT published: no candidate met the budget" in md
    assert "| int8 | over budget |" in md and "Conv_3" in md
    written = report.write(tmp_path / "r")
    assert sorted(p.name for p in written) == ["optimization_report.json", "optimization_report.md"]


def test_exact_candidates_serialise_without_infinities() -> None:
    ref = {"p": np.ones((2, 3), np.float32)}
    report = Report(
        "m",
        "s",
        "onnxruntime",
        [CandidateReport("fp32", "reference", gate=evaluate(Budget(), ref, ref))],
    )
    data = json.loads(report.to_json())  # allow_nan=False: would raise on inf
    assert data["candidates"][0]["gate"]["outputs"][0]["sqnr_db"] is None
    assert "SQNR exact" in report.to_markdown()
