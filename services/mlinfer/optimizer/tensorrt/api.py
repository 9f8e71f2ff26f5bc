"""Building with the ``tensorrt`` Python API, TensorRT 8.5 and 10.

Differences handled here:

* network creation: 8.x needs the ``EXPLICIT_BATCH`` flag (ONNX networks always are); 10 has
  only explicit batch and offers ``STRONGLY_TYPED`` (precisions exactly as the Q/DQ file says);
* workspace: ``set_memory_pool_limit(MemoryPoolType.WORKSPACE, ...)`` where it exists (8.4+),
  ``max_workspace_size`` before;
* INT8: explicit Q/DQ (both versions: the file the gate measured) or, on 8.x only, implicit
  calibration with :class:`~mlinfer.optimizer.tensorrt.calibrator.EntropyCalibrator` and its
  cache (TensorRT 10 deprecates implicit quantization);
* the timing cache is loaded before the build and saved after it, so the next build of the
  same layers on the same GPU skips the tactic search that makes Orin builds take minutes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mlinfer.optimizer.errors import OptimizerError, UnsupportedOpError
from mlinfer.optimizer.inspect import load_model
from mlinfer.optimizer.tensorrt.profiles import InputProfile
from mlinfer.optimizer.tensorrt.trtexec import BuildFlags


def tensorrt_module() -> Any | None:
    try:
        import tensorrt
    except ImportError:
        return None
    return tensorrt


def major_version(trt: Any) -> int:
    return int(str(trt.__version__).split(".")[0])


def make_logger(trt: Any, progress: Callable[[str], None]) -> Any:
    """TensorRT's logger, forwarding warnings and errors as progress lines."""

    class Logger(trt.ILogger):  # type: ignore[misc]
        def __init__(self) -> None:
            trt.ILogger.__init__(self)

        def log(self, severity: Any, msg: str) -> None:
            if int(severity) <= int(trt.ILogger.Severity.WARNING):
                progress(f"TensorRT: {msg}")

    return Logger()


def _parse(trt: Any, network: Any, logger: Any, onnx_path: Path) -> None:
    parser = trt.OnnxParser(network, logger)
    if parser.parse_from_file(str(onnx_path)):
        return
    nodes = load_model(onnx_path).graph.node
    errors = [parser.get_error(i) for i in range(parser.num_errors)]
    for error in errors:
        index = int(error.node())
        if 0 <= index < len(nodes):
            node = nodes[index]
            raise UnsupportedOpError(
                node.op_type,
                node.name or f"#{index}",
                f"TensorRT {trt.__version__}",
                str(error.desc()),
            )
    raise OptimizerError(
        "TensorRT cannot parse the model: " + "; ".join(str(e.desc()) for e in errors)
    )


def _network(trt: Any, builder: Any, flags: BuildFlags) -> Any:
    creation = 0
    if major_version(trt) < 10:
        creation |= 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    elif flags.strongly_typed:
        creation |= 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    return builder.create_network(creation)


def _configure(
    trt: Any, builder: Any, config: Any, flags: BuildFlags, calibrator: Any | None
) -> None:
    workspace = flags.workspace_mib << 20
    if hasattr(config, "set_memory_pool_limit"):
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace)
    else:  # TensorRT < 8.4
        config.max_workspace_size = workspace
    strongly_typed = flags.strongly_typed and major_version(trt) >= 10
    if not strongly_typed and flags.precision in ("fp16", "int8"):
        if not builder.platform_has_fast_fp16:
            raise OptimizerError(f"this GPU has no fast FP16; {flags.precision} is pointless")
        config.set_flag(trt.BuilderFlag.FP16)
    if not strongly_typed and flags.precision == "int8":
        config.set_flag(trt.BuilderFlag.INT8)
        if calibrator is not None:
            if major_version(trt) >= 10:
                raise OptimizerError(
                    "TensorRT 10 builds INT8 from Q/DQ models; implicit "
                    "calibration is for TensorRT 8.x"
                )
            config.int8_calibrator = calibrator
    if flags.dla_core is not None:
        if builder.num_DLA_cores <= flags.dla_core:
            raise OptimizerError(
                f"DLA core {flags.dla_core} requested; this device has {builder.num_DLA_cores}"
            )
        config.default_device_type = trt.DeviceType.DLA
        config.DLA_core = flags.dla_core
        if flags.gpu_fallback:
            config.set_flag(trt.BuilderFlag.GPU_FALLBACK)


def _timing_cache(config: Any, path: Path | None) -> Any:
    data = path.read_bytes() if path is not None and path.is_file() else b""
    cache = config.create_timing_cache(data)
    config.set_timing_cache(cache, ignore_mismatch=False)
    return cache


def build_with_api(
    trt: Any,
    onnx_path: Path,
    engine_path: Path,
    profiles: Sequence[InputProfile],
    flags: BuildFlags,
    progress: Callable[[str], None],
    calibrator: Any | None = None,
) -> None:
    logger = make_logger(trt, progress)
    builder = trt.Builder(logger)
    network = _network(trt, builder, flags)
    _parse(trt, network, logger, onnx_path)
    config = builder.create_builder_config()
    _configure(trt, builder, config, flags, calibrator)
    if profiles:
        profile = builder.create_optimization_profile()
        for p in profiles:
            profile.set_shape(p.name, p.min, p.opt, p.max)
        config.add_optimization_profile(profile)
        if calibrator is not None and hasattr(config, "set_calibration_profile"):
            config.set_calibration_profile(profile)
    _timing_cache(config, flags.timing_cache)
    progress(f"building the engine with TensorRT {trt.__version__} (tactic search) ...")
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise OptimizerError("TensorRT failed to build the engine (see its messages above)")
    engine_path.write_bytes(bytes(serialized))
    if flags.timing_cache is not None:
        flags.timing_cache.parent.mkdir(parents=True, exist_ok=True)
        flags.timing_cache.write_bytes(bytes(config.get_timing_cache().serialize()))
