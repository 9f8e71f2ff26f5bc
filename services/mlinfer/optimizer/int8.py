"""Stage 2: INT8 candidates through ONNX Runtime's quantization tool.

Static INT8 writes Q/DQ pairs calibrated on real samples (MinMax, Entropy or Percentile),
weights per channel. The data types follow the target:

* TensorRT: INT8 activations and weights, both symmetric: what explicit quantization accepts,
  so TensorRT builds the same file the gate measured.
* ONNX Runtime on CPU: UINT8 activations (asymmetric) with symmetric INT8 weights, the U8S8
  path MLAS is fastest at; on x86 without VNNI, 7-bit weights (``reduce_range``) so the
  16-bit intermediate sums of the AVX2 kernels cannot saturate, as ONNX Runtime advises.

Dynamic INT8 (weights quantized offline, activations per batch at run time) suits transformer
encoders, whose activation ranges vary too much between inputs for one static scale.
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from mlinfer.optimizer.config import Int8Options, Target
from mlinfer.optimizer.data import Dataset, Feeds
from mlinfer.optimizer.inspect import load_model

_VNNI_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")


def cpu_has_vnni(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    try:
        flags = set(cpuinfo.read_text(encoding="utf-8", errors="replace").split())
    except OSError:
        return False
    return any(f in flags for f in _VNNI_FLAGS)


def default_reduce_range(target: Target) -> bool:
    machine = platform.machine().lower()
    x86 = machine in ("x86_64", "amd64", "i686", "x86")
    return target == "onnxruntime" and x86 and not cpu_has_vnni()


class DatasetReader:
    """ONNX Runtime's CalibrationDataReader protocol over a :class:`Dataset`."""

    def __init__(
        self, dataset: Dataset, batch: int = 8, progress: Callable[[int], None] | None = None
    ) -> None:
        self._dataset = dataset
        self._batch = batch
        self._progress = progress
        self._iter: Iterator[Feeds] = dataset.batches(batch)
        self._done = 0

    def get_next(self) -> Feeds | None:
        feeds = next(self._iter, None)
        if feeds is not None:
            self._done += len(next(iter(feeds.values()))) if self._dataset.batched else 1
            if self._progress:
                self._progress(self._done)
        return feeds

    def rewind(self) -> None:
        self._iter = self._dataset.batches(self._batch)
        self._done = 0

    # onnxruntime's CalibrationDataReader accepts any object with get_next (__subclasshook__).
    def __iter__(self) -> DatasetReader:
        return self

    def __next__(self) -> Feeds:
        feeds = self.get_next()
        if feeds is None:
            raise StopIteration
        return feeds


def _excluded(source: Path, options: Int8Options, extra: Sequence[str]) -> list[str]:
    names = set(options.exclude_nodes) | set(extra)
    if options.exclude_op_types:
        model = load_model(source)
        names |= {n.name for n in model.graph.node if n.op_type in options.exclude_op_types}
    return sorted(names)


def quantize_int8_static(
    source: Path,
    target: Path,
    calibration: Dataset,
    options: Int8Options,
    *,
    target_kind: Target,
    exclude: Sequence[str] = (),
    progress: Callable[[int], None] | None = None,
) -> Path:
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    symmetric = options.symmetric_activations
    if symmetric is None:
        symmetric = target_kind == "tensorrt"
    reduce_range = options.reduce_range
    if reduce_range is None:
        reduce_range = default_reduce_range(target_kind)
    method = {
        "minmax": CalibrationMethod.MinMax,
        "entropy": CalibrationMethod.Entropy,
        "percentile": CalibrationMethod.Percentile,
    }[options.method]
    extra: dict[str, Any] = {"ActivationSymmetric": symmetric, "WeightSymmetric": True}
    if options.method == "percentile":
        extra["CalibPercentile"] = options.percentile
    reader = DatasetReader(calibration, progress=progress)
    quantize_static(
        str(source),
        str(target),
        reader,
        quant_format=QuantFormat.QDQ,
        per_channel=options.per_channel,
        reduce_range=reduce_range,
        activation_type=QuantType.QInt8 if symmetric else QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        nodes_to_exclude=_excluded(source, options, exclude),
        calibrate_method=method,
        extra_options=extra,
    )
    return target


def quantize_int8_dynamic(
    source: Path, target: Path, options: Int8Options, *, exclude: Sequence[str] = ()
) -> Path:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    reduce_range = options.reduce_range
    if reduce_range is None:
        reduce_range = default_reduce_range("onnxruntime")
    quantize_dynamic(
        str(source),
        str(target),
        per_channel=options.per_channel,
        reduce_range=reduce_range,
        weight_type=QuantType.QInt8,
        nodes_to_exclude=_excluded(source, options, exclude),
    )
    return target
