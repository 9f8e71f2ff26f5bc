"""Stage 5: the accuracy gate. A candidate passes only if every budgeted number holds.

With labels the task metric decides (top-1 accuracy may drop at most ``max_accuracy_drop``
points); tensor agreement is always measured and its budgeted floors (cosine, SQNR, top-1
agreement, Polygraphy-style atol/rtol) apply per output. Random-weight models have nearly flat
logits, so top-1 agreement is reported but not budgeted by default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mlinfer.optimizer.agreement import Accuracy, OutputAgreement, accuracy, compare_output
from mlinfer.optimizer.config import Budget


@dataclass(frozen=True)
class GateResult:
    passed: bool
    reasons: tuple[str, ...]
    """Why it failed (empty when it passed)."""
    outputs: tuple[OutputAgreement, ...]
    accuracy: Accuracy | None = None
    samples: int = 0
    notes: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        acc = None
        if self.accuracy is not None:
            acc = {
                "reference": self.accuracy.reference,
                "candidate": self.accuracy.candidate,
                "drop_points": self.accuracy.drop_points,
                "samples": self.accuracy.samples,
            }
        return {
            "passed": self.passed,
            "reasons": list(self.reasons),
            "samples": self.samples,
            "accuracy": acc,
            "outputs": [o.as_dict() for o in self.outputs],
        }

    def worst(self) -> str:
        """One line for progress output."""
        parts = []
        if self.accuracy is not None:
            parts.append(
                f"top-1 {self.accuracy.candidate * 100:.2f}% (FP32 "
                f"{self.accuracy.reference * 100:.2f}%)"
            )
        for o in self.outputs:
            parts.append(f"{o.name}: cosine {o.cosine:.5f}, SQNR {o.sqnr_db:.1f} dB")
        return "; ".join(parts)


def _floor(
    reasons: list[str], output: str, what: str, value: float | None, low: float | None
) -> None:
    if low is not None and value is not None and value < low:
        reasons.append(f"output '{output}': {what} {value:.5g} is below the budget's {low:g}")


def evaluate(
    budget: Budget,
    reference: Mapping[str, NDArray[Any]],
    candidate: Mapping[str, NDArray[Any]],
    labels: NDArray[np.int64] | None = None,
) -> GateResult:
    reasons: list[str] = []
    outputs = []
    for name, ref in reference.items():
        limits = budget.for_output(name)
        agreement = compare_output(name, ref, candidate[name], limits.atol, limits.rtol)
        outputs.append(agreement)
        _floor(reasons, name, "mean cosine similarity", agreement.cosine, limits.min_cosine)
        _floor(reasons, name, "SQNR (dB)", agreement.sqnr_db, limits.min_sqnr_db)
        _floor(
            reasons, name, "top-1 agreement", agreement.top1_agreement, limits.min_top1_agreement
        )
        if agreement.within_tolerance is not None and agreement.within_tolerance < 1.0:
            reasons.append(
                f"output '{name}': {(1 - agreement.within_tolerance) * 100:.3g}% of elements "
                f"exceed atol {limits.atol or 0:g} + rtol {limits.rtol or 0:g} (max abs error "
                f"{agreement.max_abs_error:.3g})"
            )
    acc = None
    if labels is not None:
        output = budget.label_output or next(iter(reference))
        if output not in reference:
            reasons.append(f"budget.label_output '{output}' is not an output: {list(reference)}")
        else:
            acc = accuracy(reference, candidate, labels, output)
            if acc.drop_points > budget.max_accuracy_drop + 1e-9:
                reasons.append(
                    f"top-1 accuracy {acc.candidate * 100:.2f}% is {acc.drop_points:.2f} points "
                    f"below FP32's {acc.reference * 100:.2f}% (budget: "
                    f"{budget.max_accuracy_drop:g} points)"
                )
    samples = len(next(iter(reference.values()))) if reference else 0
    return GateResult(not reasons, tuple(reasons), tuple(outputs), acc, samples)
