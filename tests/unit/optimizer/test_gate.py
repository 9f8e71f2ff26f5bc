from __future__ import annotations

import math

import numpy as np
import pytest

from mlinfer.optimizer.agreement import compare_output, sqnr_db
from mlinfer.optimizer.config import Budget, OutputBudget
from mlinfer.optimizer.gate import evaluate

rng = np.random.default_rng(0)


def test_sqnr_matches_its_definition() -> None:
    ref = rng.standard_normal((100, 10)).astype(np.float32)
    noise = 0.01 * rng.standard_normal((100, 10)).astype(np.float32)
    expected = 10 * math.log10(
        np.sum(ref.astype(np.float64) ** 2) / np.sum(noise.astype(np.float64) ** 2)
    )
    assert sqnr_db(ref, ref + noise) == pytest.approx(expected, rel=1e-4)
    assert sqnr_db(ref, ref) == math.inf


def test_agreement_numbers() -> None:
    ref = np.array([[1.0, 2.0, 3.0], [3.0, 1.0, 0.5]], np.float32)
    cand = np.array([[1.0, 2.5, 2.0], [3.0, 1.0, 0.5]], np.float32)  # row 0 now picks class 1
    a = compare_output("y", ref, cand, atol=0.1)
    assert a.top1_agreement == 0.5
    assert a.max_abs_error == pytest.approx(1.0)
    assert a.mean_abs_error == pytest.approx(1.5 / 6)
    assert a.max_rel_error == pytest.approx(1 / 3)
    assert a.within_tolerance == pytest.approx(4 / 6)
    cos0 = (1 + 5 + 6) / (math.sqrt(14) * math.sqrt(1 + 6.25 + 4))
    assert a.cosine == pytest.approx((cos0 + 1.0) / 2)
    with pytest.raises(ValueError, match="differs"):
        compare_output("y", ref, cand[:1])


def test_gate_passes_close_outputs_and_refuses_with_reasons() -> None:
    ref = {"y": rng.standard_normal((50, 10)).astype(np.float32)}
    close = {"y": ref["y"] + 1e-3}
    far = {"y": ref["y"] + 0.5 * rng.standard_normal((50, 10)).astype(np.float32)}
    assert evaluate(Budget(), ref, close).passed
    result = evaluate(Budget(min_sqnr_db=20), ref, far)
    assert not result.passed
    assert any("mean cosine similarity" in r for r in result.reasons)
    assert any("SQNR (dB)" in r and "budget's 20" in r for r in result.reasons)
    per_output = Budget(min_cosine=None, outputs={"y": OutputBudget(atol=1e-4)})
    assert "exceed atol" in evaluate(per_output, ref, close).reasons[0]


def test_accuracy_budget_in_points() -> None:
    labels = np.arange(100) % 10
    ref_scores = np.eye(10, dtype=np.float32)[labels]  # 100 % right
    cand_scores = ref_scores.copy()
    cand_scores[:2] = np.roll(cand_scores[:2], 1, axis=1)  # 2 wrong: 98 %
    budget = Budget(min_cosine=None, max_accuracy_drop=1.0)
    result = evaluate(budget, {"p": ref_scores}, {"p": cand_scores}, labels)
    assert result.accuracy is not None and result.accuracy.drop_points == pytest.approx(2.0)
    assert not result.passed and "2.00 points below" in result.reasons[0]
    assert evaluate(
        Budget(min_cosine=None, max_accuracy_drop=2.0),
        {"p": ref_scores},
        {"p": cand_scores},
        labels,
    ).passed
