"""Implicit INT8 calibration for TensorRT 8.x: an entropy calibrator over a Dataset.

TensorRT asks for batches as device pointers, so samples are copied to GPU memory through
cuda-python. The calibration cache it writes lets later builds skip calibration; its name
includes the dataset hash, so a changed data set is never served a stale cache.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mlinfer.optimizer.data import Dataset
from mlinfer.optimizer.errors import ToolUnavailableError


def _cudart() -> Any:
    try:
        from cuda.bindings import runtime  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        try:
            from cuda import cudart as runtime  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            raise ToolUnavailableError(
                "implicit INT8 calibration needs cuda-python (pip install cuda-python)"
            ) from None
    return runtime


def _check(result: Any) -> Any:
    err, *rest = result if isinstance(result, tuple) else (result,)
    if int(err) != 0:
        raise RuntimeError(f"CUDA error {err}")
    return rest[0] if rest else None


def entropy_calibrator(trt: Any, dataset: Dataset, batch: int, cache: Path) -> Any:
    """A ``trt.IInt8EntropyCalibrator2`` feeding ``dataset`` ``batch`` samples at a time."""
    cudart = _cudart()

    class EntropyCalibrator(trt.IInt8EntropyCalibrator2):  # type: ignore[misc]
        def __init__(self) -> None:
            trt.IInt8EntropyCalibrator2.__init__(self)
            self._batches = dataset.batches(batch)
            self._device: dict[str, int] = {}
            for name, array in dataset.inputs.items():
                size = array[:batch].nbytes
                self._device[name] = int(_check(cudart.cudaMalloc(size)))

        def get_batch_size(self) -> int:
            return batch

        def get_batch(self, names: list[str]) -> list[int] | None:
            feeds = next(self._batches, None)
            if feeds is None or len(next(iter(feeds.values()))) < batch:
                return None  # TensorRT needs full batches
            for name in names:
                host = np.ascontiguousarray(feeds[name])
                _check(
                    cudart.cudaMemcpy(
                        self._device[name],
                        host.ctypes.data,
                        host.nbytes,
                        cudart.cudaMemcpyKind.cudaMemcpyHostToDevice,
                    )
                )
            return [self._device[n] for n in names]

        def read_calibration_cache(self) -> bytes | None:
            return cache.read_bytes() if cache.is_file() else None

        def write_calibration_cache(self, data: Any) -> None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_bytes(bytes(data))

        def __del__(self) -> None:
            for pointer in self._device.values():
                cudart.cudaFree(pointer)

    return EntropyCalibrator()
