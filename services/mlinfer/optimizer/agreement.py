"""How closely a candidate's outputs follow the FP32 reference's, and the task metric.

Per output: top-1 agreement (for outputs with a class axis), max/mean absolute and relative
error (relative to the reference, as Polygraphy computes it), mean per-sample cosine
similarity and the signal-to-quantization-noise ratio in dB. With labels: top-1 accuracy of
reference and candidate.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

_TINY = 1e-12


@dataclass(frozen=True)
class OutputAgreement:
    name: str
    top1_agreement: float | None
    max_abs_error: float
    mean_abs_error: float
    max_rel_error: float
    mean_rel_error: float
    cosine: float
    sqnr_db: float
    within_tolerance: float | None = None
    """Fraction of elements with ``|c - r| <= atol + rtol*|r|`` when tolerances are set."""

    def as_dict(self) -> dict[str, Any]:
        return {
            k: (None if isinstance(v, float) and math.isinf(v) else v)
            for k, v in asdict(self).items()
        }


@dataclass(frozen=True)
class Accuracy:
    reference: float
    candidate: float
    samples: int

    @property
    def drop_points(self) -> float:
        return (self.reference - self.candidate) * 100.0


def sqnr_db(reference: NDArray[Any], candidate: NDArray[Any]) -> float:
    signal = float(np.sum(np.square(reference, dtype=np.float64)))
    noise = float(np.sum(np.square(reference.astype(np.float64) - candidate)))
    if noise <= _TINY * max(signal, _TINY):
        return math.inf
    return 10.0 * math.log10(max(signal, _TINY) / noise)


def _cosine(reference: NDArray[Any], candidate: NDArray[Any]) -> float:
    r = reference.reshape(len(reference), -1).astype(np.float64)
    c = candidate.reshape(len(candidate), -1).astype(np.float64)
    dot = np.sum(r * c, axis=1)
    norms = np.linalg.norm(r, axis=1) * np.linalg.norm(c, axis=1)
    same = np.all(np.isclose(r, c, rtol=0, atol=_TINY), axis=1)
    cos = np.where(norms > _TINY, dot / np.maximum(norms, _TINY), np.where(same, 1.0, 0.0))
    return float(np.mean(cos))


def compare_output(
    name: str,
    reference: NDArray[Any],
    candidate: NDArray[Any],
    atol: float | None = None,
    rtol: float | None = None,
) -> OutputAgreement:
    if reference.shape != candidate.shape:
        raise ValueError(
            f"output '{name}': candidate shape {list(candidate.shape)} differs from the "
            f"reference's {list(reference.shape)}"
        )
    ref = reference.astype(np.float64)
    cand = candidate.astype(np.float64)
    diff = np.abs(ref - cand)
    rel = diff / np.maximum(np.abs(ref), _TINY)
    top1 = None
    if ref.ndim >= 2 and ref.shape[-1] > 1 and not np.issubdtype(reference.dtype, np.integer):
        top1 = float(np.mean(np.argmax(ref, axis=-1) == np.argmax(cand, axis=-1)))
    within = None
    if atol is not None or rtol is not None:
        within = float(np.mean(diff <= (atol or 0.0) + (rtol or 0.0) * np.abs(ref)))
    return OutputAgreement(
        name=name,
        top1_agreement=top1,
        max_abs_error=float(diff.max(initial=0.0)),
        mean_abs_error=float(diff.mean()) if diff.size else 0.0,
        max_rel_error=float(rel.max(initial=0.0)),
        mean_rel_error=float(rel.mean()) if rel.size else 0.0,
        cosine=_cosine(ref, cand),
        sqnr_db=sqnr_db(ref, cand),
        within_tolerance=within,
    )


def top1_accuracy(scores: NDArray[Any], labels: NDArray[np.int64]) -> float:
    predicted = np.argmax(scores.reshape(len(scores), -1), axis=-1)
    return float(np.mean(predicted == labels))


def accuracy(
    reference: Mapping[str, NDArray[Any]],
    candidate: Mapping[str, NDArray[Any]],
    labels: NDArray[np.int64],
    output: str,
) -> Accuracy:
    return Accuracy(
        reference=top1_accuracy(reference[output], labels),
        candidate=top1_accuracy(candidate[output], labels),
        samples=len(labels),
    )
