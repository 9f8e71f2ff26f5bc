"""An engine for a gated ONNX candidate, built only when its cache key changed.

Engines live in ``<cache_dir>/engines/<key>.plan`` with the key's parts beside them; a build
whose key matches a cached engine copies it instead of spending minutes in the tactic search.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mlinfer.optimizer.config import TensorRTOptions
from mlinfer.optimizer.data import Dataset
from mlinfer.optimizer.device import DeviceInfo, current_device
from mlinfer.optimizer.engine_key import (
    EngineKey,
    arrays_sha256,
    cached_engine_matches,
    device_part,
    file_sha256,
    write_key,
)
from mlinfer.optimizer.errors import ToolUnavailableError
from mlinfer.optimizer.tensorrt.api import build_with_api, major_version, tensorrt_module
from mlinfer.optimizer.tensorrt.profiles import InputProfile
from mlinfer.optimizer.tensorrt.trtexec import (
    BuildFlags,
    build_with_trtexec,
    find_trtexec,
    trtexec_version,
)


@dataclass(frozen=True)
class Toolchain:
    """How engines are built here: the Python module, or the trtexec binary."""

    version: str
    module: object | None = None
    trtexec: str | None = None


def find_toolchain(trtexec_name: str) -> Toolchain:
    trt = tensorrt_module()
    if trt is not None:
        return Toolchain(str(getattr(trt, "__version__", "?")), module=trt)
    binary = find_trtexec(trtexec_name)
    if binary is not None:
        return Toolchain(trtexec_version(binary), trtexec=binary)
    raise ToolUnavailableError(
        "TensorRT is needed (--target tensorrt, or a .plan engine): neither the tensorrt "
        "Python module nor trtexec "
        f"('{trtexec_name}', MLINFER_OPTIMIZER_TRTEXEC) is available on this machine"
    )


def engine_key(
    onnx_path: Path,
    precision: str,
    calibration: Dataset | None,
    profiles: Sequence[InputProfile],
    flags: BuildFlags,
    toolchain: Toolchain,
    device: DeviceInfo | None,
) -> EngineKey:
    return EngineKey(
        onnx_sha256=file_sha256(onnx_path),
        precision=precision,
        calibration_sha256=arrays_sha256(calibration.inputs) if calibration else None,
        profiles={p.name: p.as_lists() for p in profiles},
        flags=flags.names(),
        tensorrt_version=toolchain.version,
        cuda_version=device.cuda_version if device else None,
        device=device_part(device),
    )


def build_engine(
    onnx_path: Path,
    precision: str,
    profiles: Sequence[InputProfile],
    options: TensorRTOptions,
    *,
    toolchain: Toolchain,
    cache_dir: Path,
    target: Path,
    calibration: Dataset | None = None,
    implicit_int8: bool = False,
    progress: Callable[[str], None] = lambda _: None,
) -> EngineKey:
    """Write ``target`` (``model.plan``) and its key file; return the key."""
    device = current_device()
    timing_cache = options.timing_cache or cache_dir / "timing" / (
        f"{(device.name if device else 'gpu').replace(' ', '_')}-trt{toolchain.version}.cache"
    )
    calib_cache = None
    if implicit_int8 and calibration is not None:
        calib_cache = cache_dir / "calibration" / f"{arrays_sha256(calibration.inputs)}.cache"
    flags = BuildFlags(
        precision="int8" if precision.startswith("int8") else precision,
        workspace_mib=options.workspace_mib,
        timing_cache=timing_cache,
        dla_core=options.dla_core,
        gpu_fallback=options.gpu_fallback,
        strongly_typed=options.strongly_typed,
        calibration_cache=calib_cache,
    )
    key = engine_key(
        onnx_path,
        precision,
        calibration,
        profiles,
        flags,
        toolchain,
        device,
    )
    cached = cache_dir / "engines" / f"{key.digest}.plan"
    if cached_engine_matches(cached, key):
        progress(f"engine cache hit ({key.digest[:12]}): no build needed")
    else:
        cached.parent.mkdir(parents=True, exist_ok=True)
        if toolchain.module is not None:
            calibrator = None
            if calib_cache is not None and calibration is not None:
                from mlinfer.optimizer.tensorrt.calibrator import entropy_calibrator

                if major_version(toolchain.module) >= 10:
                    raise ToolUnavailableError("implicit INT8 calibration is TensorRT 8.x only")
                calibrator = entropy_calibrator(toolchain.module, calibration, 8, calib_cache)
            build_with_api(
                toolchain.module, onnx_path, cached, profiles, flags, progress, calibrator
            )
        else:
            assert toolchain.trtexec is not None
            build_with_trtexec(
                toolchain.trtexec, onnx_path, cached, profiles, flags, toolchain.version, progress
            )
        write_key(cached, key)
    shutil.copyfile(cached, target)
    write_key(target, key)
    return key
