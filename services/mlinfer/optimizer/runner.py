"""Running a model over a dataset with ONNX Runtime (the reference and the candidates)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mlinfer.optimizer.data import Dataset
from mlinfer.optimizer.inspect import ort_session_error

Outputs = dict[str, NDArray[Any]]


def open_session(
    path: Path, *, threads: int = 0, extra_outputs: bool = False, optimize: bool = True
) -> Any:
    """A CPU session for ``path``; a missing kernel fails naming the op and node."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    if not optimize or extra_outputs:
        # Graph fusion would hide the intermediate tensors being compared.
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
        raise ort_session_error(exc, path) from None


def run_dataset(
    session: Any,
    dataset: Dataset,
    *,
    batch: int = 32,
    outputs: Sequence[str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Outputs:
    """Every output for every sample, concatenated along the sample axis."""
    names = list(outputs) if outputs else [o.name for o in session.get_outputs()]
    parts: dict[str, list[NDArray[Any]]] = {n: [] for n in names}
    done = 0
    for feeds in dataset.batches(batch):
        results = session.run(names, feeds)
        for name, value in zip(names, results, strict=True):
            value = np.asarray(value)
            parts[name].append(value if dataset.batched else value[None])
        done += len(next(iter(feeds.values()))) if dataset.batched else 1
        if progress:
            progress(done)
    return {n: np.concatenate(v) for n, v in parts.items()}
