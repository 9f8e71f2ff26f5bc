"""Top-k classes of one image's scores, with the labels from the output's label_filename."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray


def softmax(scores: NDArray[Any]) -> NDArray[np.float64]:
    shifted = scores.astype(np.float64) - np.max(scores)
    exp = np.exp(shifted)
    probabilities: NDArray[np.float64] = exp / exp.sum()
    return probabilities


def top_k(
    scores: NDArray[Any], labels: Sequence[str], k: int, apply_softmax: bool = False
) -> list[dict[str, Any]]:
    """``[{"label", "index", "score"}]`` best first; ties keep the lower index first.

    ``scores`` is one image's output (any shape; flattened). A class without a label is
    labelled with its index, so every entry has a string label.
    """
    flat = scores.reshape(-1).astype(np.float64)
    if apply_softmax:
        flat = softmax(flat)
    k = max(0, min(k, flat.size))
    if k == 0:
        return []
    if k < flat.size:
        candidates = np.argpartition(-flat, k - 1)[:k]
        order = candidates[np.lexsort((candidates, -flat[candidates]))]
    else:
        order = np.argsort(-flat, kind="stable")
    return [
        {
            "label": labels[i] if i < len(labels) else str(i),
            "index": int(i),
            "score": float(flat[i]),
        }
        for i in order
    ]
