"""Which class a classifier's response predicted, per batch item: what an A/B split compares.

A response counts as a classification when one of its outputs is either

- classification-extension output the client asked for (``class_count``): BYTES strings
  ``"score:index[:label]"``, best first, so the first of each row is the prediction; or
- a numeric output the model labels (``label_filename`` in its config): the prediction is
  the arg-max of each row.

The class is the label when there is one, else the index. Only the first such output
counts (a classifier has one); a model with neither predicts no class here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from mlinfer.core.model_spec import ModelSpec
from mlinfer.core.types import InferRequest, InferResponse, Tensor


def predicted_classes(spec: ModelSpec, request: InferRequest, response: InferResponse) -> list[str]:
    asked = {o.name for o in request.outputs or () if o.class_count > 0}
    for tensor in response.outputs:
        if tensor.name in asked:
            return _from_strings(tensor, spec.batched)
        output = spec.output(tensor.name)
        if output is not None and output.labels and tensor.datatype != "BYTES":
            return _arg_max(tensor, output.labels, spec.batched)
    return []


def _rows(tensor: Tensor, batched: bool) -> NDArray[Any]:
    if tensor.data.size == 0:
        return tensor.data.reshape(0, 1)
    return tensor.data.reshape(tensor.shape[0] if batched else 1, -1)


def _from_strings(tensor: Tensor, batched: bool) -> list[str]:
    classes = []
    for row in _rows(tensor, batched):
        best = row[0]
        text = best.decode(errors="replace") if isinstance(best, bytes) else str(best)
        parts = text.split(":", 2)  # score:index[:label]; a label may hold ':' itself
        classes.append(parts[2] if len(parts) == 3 else parts[-1])
    return classes


def _arg_max(tensor: Tensor, labels: tuple[str, ...], batched: bool) -> list[str]:
    rows = _rows(tensor, batched)
    if rows.shape[1] == 0:
        return []
    indices = np.argmax(rows, axis=1)
    return [labels[i] if i < len(labels) else str(int(i)) for i in indices]
