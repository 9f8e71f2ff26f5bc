"""Triton's classification extension: top-k ``"value:index[:label]"`` strings per batch item."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mlinfer.core.errors import InvalidInputError
from mlinfer.core.types import Tensor


def classify(tensor: Tensor, k: int, labels: Sequence[str], batched: bool) -> Tensor:
    if tensor.datatype == "BYTES":
        raise InvalidInputError(f"classification is not supported for BYTES output '{tensor.name}'")
    rows = tensor.data.reshape(tensor.shape[0], -1) if batched else tensor.data.reshape(1, -1)
    k = min(k, rows.shape[1])
    out = np.empty((rows.shape[0], k), dtype=np.object_)
    for r, row in enumerate(rows):
        top = np.argsort(-row.astype(np.float64), kind="stable")[:k]
        for c, index in enumerate(top):
            label = f":{labels[index]}" if index < len(labels) else ""
            out[r, c] = f"{_score(row[index])}:{int(index)}{label}".encode()
    shape = out.shape if batched else (k,)
    return Tensor(tensor.name, "BYTES", tuple(shape), out.reshape(shape))


def _score(value: Any) -> str:
    # Triton prints integer outputs as integers ("16:15") and floats with six decimals.
    if np.issubdtype(type(value), np.integer) or isinstance(value, np.bool_):
        return str(int(value))
    return f"{float(value):f}"
