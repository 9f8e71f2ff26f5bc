from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.typing import NDArray

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


def _scores(rows: list[list[float]]) -> dict[str, NDArray[np.float32]]:
    return {"p": np.array(rows, np.float32)}


def test_floors_hold_at_the_budget_and_fail_below_it() -> None:
    ref = {"y": np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)}
    cand = {"y": np.array([[1.0, 0.0], [1.0, 1.0]], np.float32)}  # row 1 cosine 1/sqrt(2)
    measured = evaluate(Budget(min_cosine=None), ref, cand).outputs[0]
    cosine, sqnr = measured.cosine, measured.sqnr_db
    at = Budget(min_cosine=cosine, min_sqnr_db=sqnr, min_top1_agreement=0.5)
    assert evaluate(at, ref, cand).passed  # a value equal to its floor passes
    above = Budget(min_cosine=cosine + 1e-6, min_sqnr_db=sqnr + 0.01, min_top1_agreement=0.6)
    result = evaluate(above, ref, cand)
    assert not result.passed
    assert result.reasons == (
        f"output 'y': mean cosine similarity {cosine:.5g} is below the budget's {cosine + 1e-6:g}",
        f"output 'y': SQNR (dB) {sqnr:.5g} is below the budget's {sqnr + 0.01:g}",
        "output 'y': top-1 agreement 0.5 is below the budget's 0.6",
    )


def test_top1_floor_is_skipped_where_top1_is_not_defined() -> None:
    # One value per row has no arg-max to agree on: the floor cannot apply.
    ref = {"y": np.array([[1.0], [2.0]], np.float32)}
    result = evaluate(Budget(min_cosine=None, min_top1_agreement=1.0), ref, {"y": ref["y"] + 1})
    assert result.outputs[0].top1_agreement is None and result.passed


def test_tolerances_count_only_elements_outside_them() -> None:
    ref = {"y": np.array([[1.0, 2.0, 3.0, 4.0]], np.float32)}
    cand = {"y": np.array([[1.0, 2.0, 3.0, 4.5]], np.float32)}
    exact = Budget(min_cosine=None, atol=0.5)
    assert evaluate(exact, ref, cand).passed  # |4.5 - 4| = atol: within
    tight = evaluate(Budget(min_cosine=None, atol=0.1, rtol=0.01), ref, cand)
    assert tight.reasons == (
        "output 'y': 25% of elements exceed atol 0.1 + rtol 0.01 (max abs error 0.5)",
    )
    rtol_only = evaluate(Budget(min_cosine=None, rtol=0.1), ref, cand)
    assert rtol_only.reasons == (
        "output 'y': 25% of elements exceed atol 0 + rtol 0.1 (max abs error 0.5)",
    )
    assert evaluate(Budget(min_cosine=None, rtol=0.125), ref, cand).passed  # 0.125 * 4 = 0.5


def test_per_output_budgets_and_the_label_output() -> None:
    labels = np.array([0, 1, 1, 0])
    good = _scores([[1, 0], [0, 1], [0, 1], [1, 0]])  # 100 %
    bad = _scores([[0, 1], [1, 0], [0, 1], [1, 0]])  # 50 %
    ref = {"emb": np.ones((4, 3), np.float32), **good}
    cand = {"emb": np.ones((4, 3), np.float32), "p": bad["p"]}
    # The accuracy is scored on the named output, not the first one.
    named = evaluate(Budget(min_cosine=None, label_output="p"), ref, cand, labels)
    assert named.accuracy is not None and named.accuracy.drop_points == 50.0
    assert named.reasons == (
        "top-1 accuracy 50.00% is 50.00 points below FP32's 100.00% (budget: 1 points)",
    )
    first = evaluate(Budget(min_cosine=None), ref, cand, labels)  # default: the first, 'emb'
    assert first.accuracy is not None and first.accuracy.drop_points == 0.0 and first.passed
    missing = evaluate(Budget(min_cosine=None, label_output="logits"), ref, cand, labels)
    assert missing.accuracy is None
    assert missing.reasons == ("budget.label_output 'logits' is not an output: ['emb', 'p']",)
    per_output = Budget(min_cosine=0.0, outputs={"p": OutputBudget(min_cosine=0.99)})
    reasons = evaluate(per_output, ref, cand).reasons
    assert len(reasons) == 1 and reasons[0].startswith("output 'p': mean cosine similarity")


def test_no_labels_no_accuracy_and_the_result_as_a_dict() -> None:
    ref = _scores([[1, 0], [0, 1], [1, 0]])
    result = evaluate(Budget(), ref, ref)
    assert result.passed and result.reasons == () and result.accuracy is None
    assert result.samples == 3
    doc = result.as_dict()
    assert doc == {
        "passed": True,
        "reasons": [],
        "samples": 3,
        "accuracy": None,
        "outputs": [result.outputs[0].as_dict()],
    }
    assert result.worst() == "p: cosine 1.00000, SQNR inf dB"
    assert evaluate(Budget(), {}, {}).samples == 0


def test_accuracy_in_the_dict_and_the_progress_line() -> None:
    labels = np.array([0, 1, 1, 0])
    ref = _scores([[1, 0], [0, 1], [0, 1], [1, 0]])
    cand = _scores([[1, 0], [0, 1], [1, 0], [1, 0]])  # 75 %
    result = evaluate(Budget(min_cosine=None, max_accuracy_drop=25.0), ref, cand, labels)
    assert result.passed  # a drop equal to the budget passes
    assert result.as_dict()["accuracy"] == {
        "reference": 1.0, "candidate": 0.75, "drop_points": 25.0, "samples": 4,
    }  # fmt: skip
    assert result.worst() == "top-1 75.00% (FP32 100.00%); p: cosine 0.75000, SQNR 3.0 dB"
    strict = evaluate(Budget(min_cosine=None, max_accuracy_drop=24.99), ref, cand, labels)
    assert not strict.passed and "25.00 points below" in strict.reasons[0]


def test_atol_alone_is_reported_with_rtol_zero() -> None:
    ref = {"y": np.array([[1.0, 2.0, 3.0, 4.0]], np.float32)}
    cand = {"y": np.array([[1.0, 2.0, 3.0, 4.5]], np.float32)}
    result = evaluate(Budget(min_cosine=None, atol=0.1), ref, cand)
    assert result.reasons == (
        "output 'y': 25% of elements exceed atol 0.1 + rtol 0 (max abs error 0.5)",
    )


def test_accuracy_drop_allowance_is_inclusive_up_to_rounding() -> None:
    # The gate allows 1e-9 points of float noise: a drop equal to budget + 1e-9 passes.
    labels = np.array([0, 1, 1, 0])
    ref = _scores([[1, 0], [0, 1], [0, 1], [1, 0]])
    cand = _scores([[1, 0], [0, 1], [1, 0], [1, 0]])  # a drop of exactly 25.0 points
    assert (25.0 - 1e-9) + 1e-9 == 25.0
    budget = Budget(min_cosine=None, max_accuracy_drop=25.0 - 1e-9)
    assert evaluate(budget, ref, cand, labels).passed
