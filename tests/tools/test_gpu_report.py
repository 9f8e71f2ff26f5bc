"""The GPU report's arithmetic: ceiling interpolation, profile summary, the page itself."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the GPU bench builders import torch (extra 'torch')")

from bench.gpu_ceiling import at_batch
from bench.gpu_report import render
from bench.gpu_serve import summarize_profile

ROWS = [
    {"model": "m", "mode": "graph", "batch": 1, "infer_per_s": 100.0},
    {"model": "m", "mode": "graph", "batch": 8, "infer_per_s": 800.0},
    {"model": "m", "mode": "eager", "batch": 8, "infer_per_s": 10.0},
]


def test_ceiling_is_interpolated_between_measured_batches_and_clamped() -> None:
    assert at_batch(ROWS, "m", "graph", 1) == 100.0
    assert at_batch(ROWS, "m", "graph", 4.5) == pytest.approx(450.0)
    assert at_batch(ROWS, "m", "graph", 64) == 800.0
    assert at_batch(ROWS, "m", "eager", 1) == 10.0
    assert at_batch(ROWS, "other", "graph", 1) is None


def test_profile_summary_counts_self_and_inclusive_samples() -> None:
    text = "thread (1): Main;a (x.py:1);b (x.py:2) 3\nthread (1): Main;a (x.py:1) 1\n"
    summary = summarize_profile(text)
    assert summary["samples"] == 4
    assert dict(summary["self_pct"]) == {"b (x.py:2)": 75.0, "a (x.py:1)": 25.0}
    assert dict(summary["inclusive_pct"])["a (x.py:1)"] == 100.0


def test_page_from_the_committed_h200_results_states_each_target() -> None:
    page = render(Path(__file__).resolve().parents[2] / "bench" / "h200")
    assert "## Targets" in page
    targets = page.split("## Targets", 1)[1].split("\n## ", 1)[0]
    rows = [
        line
        for line in targets.splitlines()
        if line.startswith("| ResNet") or line.startswith("| BERT")
    ]
    assert len(rows) == 4  # two models x two protocols
    assert all(("met" in r) or ("missed" in r) for r in rows)
