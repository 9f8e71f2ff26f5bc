"""Calibration and validation samples, checked against the model's inputs.

A :class:`Dataset` holds one array per input with the samples along the first axis (for a
model whose inputs have a dynamic batch dimension that axis *is* the batch), plus optional
integer labels. Sources: ``.npz`` (one key per input, ``labels`` optional), ``.npy`` (a
one-input model), a directory of images (run through the model's declared preprocessing, see
:mod:`mlinfer.optimizer.images`), or ``module:function`` returning/yielding feed dicts.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mlinfer.optimizer.errors import DataError, TooFewSamplesError
from mlinfer.optimizer.inspect import ModelInfo, TensorInfo

Feeds = dict[str, NDArray[Any]]


@dataclass(frozen=True)
class Dataset:
    inputs: Mapping[str, NDArray[Any]]
    labels: NDArray[np.int64] | None
    source: str
    batched: bool = True

    def __len__(self) -> int:
        return len(next(iter(self.inputs.values())))

    def take(self, start: int, stop: int) -> Dataset:
        labels = self.labels[start:stop] if self.labels is not None else None
        inputs = {k: v[start:stop] for k, v in self.inputs.items()}
        return Dataset(inputs, labels, self.source, self.batched)

    def batches(self, size: int) -> Iterator[Feeds]:
        """Feed dicts of ``size`` samples (one sample at a time for an unbatched model)."""
        step = size if self.batched else 1
        for start in range(0, len(self), step):
            if self.batched:
                yield {k: v[start : start + step] for k, v in self.inputs.items()}
            else:
                yield {k: v[start] for k, v in self.inputs.items()}


def _expected(info: TensorInfo, batched: bool) -> str:
    dims = info.shape[1:] if batched else info.shape
    return "[N, " + ", ".join(str(d) for d in dims) + "]"


def check_arrays(
    arrays: Mapping[str, NDArray[Any]], model: ModelInfo, source: str
) -> dict[str, NDArray[Any]]:
    """Each model input present with the right dtype and per-sample shape, equal counts."""
    checked: dict[str, NDArray[Any]] = {}
    batched = model.batched
    for info in model.inputs:
        if info.name not in arrays:
            raise DataError(
                f"{source} has no data for input '{info.name}' (expected {info.dtype.name} "
                f"{_expected(info, batched)}); it has: {sorted(arrays)}"
            )
        array = np.asarray(arrays[info.name])
        per_sample = info.shape[1:] if batched else info.shape
        fits = array.ndim == len(per_sample) + 1 and all(
            not isinstance(want, int) or want == have
            for want, have in zip(per_sample, array.shape[1:], strict=True)
        )
        if not fits:
            raise DataError(
                f"{source}: input '{info.name}' has shape {list(array.shape)}, expected "
                f"{_expected(info, batched)} (N samples first)"
            )
        if array.dtype != info.dtype:
            raise DataError(
                f"{source}: input '{info.name}' has dtype {array.dtype.name}, expected "
                f"{info.dtype.name} (convert with .astype(np.{info.dtype.name}))"
            )
        checked[info.name] = array
    counts = {name: len(a) for name, a in checked.items()}
    if len(set(counts.values())) > 1:
        raise DataError(f"{source}: inputs have different sample counts {counts}")
    return checked


def _labels(raw: Any, count: int, source: str) -> NDArray[np.int64] | None:
    if raw is None:
        return None
    labels = np.asarray(raw)
    if labels.shape != (count,) or labels.dtype.kind not in "iu":
        raise DataError(
            f"{source}: labels must be {count} integers (one per sample), got "
            f"{labels.dtype.name}{list(labels.shape)}"
        )
    return labels.astype(np.int64)


def _from_feeds(feeds: Iterable[Mapping[str, Any]]) -> dict[str, NDArray[Any]]:
    parts: dict[str, list[NDArray[Any]]] = {}
    for feed in feeds:
        for name, value in feed.items():
            parts.setdefault(name, []).append(np.asarray(value))
    return {name: np.concatenate(arrays) for name, arrays in parts.items()}


def _read_entry_point(spec: str) -> dict[str, NDArray[Any]]:
    module_name, _, attr = spec.partition(":")
    try:
        function = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise DataError(f"cannot load data entry point '{spec}': {exc}") from None
    produced = function()
    if isinstance(produced, Mapping):
        return {k: np.asarray(v) for k, v in produced.items()}
    return _from_feeds(produced)


def read_arrays(
    source: str, model: ModelInfo, label_key: str, image_config: Any = None
) -> dict[str, NDArray[Any]]:
    """The raw arrays of ``source`` (input name -> samples), labels under ``label_key``."""
    path = Path(source)
    if path.is_dir():
        from mlinfer.optimizer.images import read_image_directory

        return read_image_directory(path, image_config, label_key)
    if path.suffix == ".npz":
        if not path.is_file():
            raise DataError(f"data file {source} does not exist")
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    if path.suffix == ".npy":
        if not path.is_file():
            raise DataError(f"data file {source} does not exist")
        if len(model.inputs) != 1:
            names = [i.name for i in model.inputs]
            raise DataError(f"{source}: a .npy holds one input; this model has {names}: use .npz")
        return {model.inputs[0].name: np.load(path, allow_pickle=False)}
    if ":" in source and not path.exists():
        return _read_entry_point(source)
    raise DataError(
        f"data source '{source}' is not a .npz/.npy file, an image directory or module:function"
    )


def load_dataset(
    source: str,
    model: ModelInfo,
    *,
    purpose: str,
    samples: int,
    minimum: int = 1,
    label_key: str = "labels",
    image_config: Any = None,
    skip: int = 0,
) -> Dataset:
    """Up to ``samples`` samples of ``source`` after the first ``skip``, checked against
    ``model``; fewer than ``minimum`` fails with the count."""
    arrays = read_arrays(source, model, label_key, image_config)
    raw_labels = arrays.pop(label_key, None)
    checked = check_arrays(arrays, model, source)
    count = len(next(iter(checked.values())))
    labels = _labels(raw_labels, count, source)
    dataset = Dataset(checked, labels, source, model.batched).take(skip, skip + samples)
    if len(dataset) < minimum:
        raise TooFewSamplesError(
            purpose,
            len(dataset),
            minimum,
            source + (f" (after the {skip} used for calibration)" if skip else ""),
        )
    return dataset


def synthetic_dataset(model: ModelInfo, samples: int = 8, seed: int = 0) -> Dataset:
    """Random inputs shaped like the model's (for profiling a model without data): floats
    standard normal, integers zero (valid token ids / indices for any vocabulary)."""
    rng = np.random.default_rng(seed)
    arrays: dict[str, NDArray[Any]] = {}
    for info in model.inputs:
        per_sample = info.shape[1:] if model.batched else info.shape
        unknown = [d for d in per_sample if not isinstance(d, int)]
        if unknown:
            raise DataError(
                f"input '{info.name}' has dynamic dimensions {unknown} besides the batch: "
                "give data (--validation) so their sizes are known"
            )
        shape = (samples, *[int(d) for d in per_sample])
        if info.dtype.kind == "f":
            arrays[info.name] = rng.standard_normal(shape).astype(info.dtype)
        elif info.dtype.kind == "b":
            arrays[info.name] = np.ones(shape, info.dtype)
        else:
            arrays[info.name] = np.zeros(shape, info.dtype)
    return Dataset(arrays, None, "synthetic", model.batched)
