"""The optimizer's stages composed: inspect, clean, candidates + gate, profile, build, publish.

Nothing is written to the repository unless a requested candidate met the budget; the report
says which candidate was chosen (the fastest that passed) and why the others were not.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mlinfer.optimizer.candidates import CandidateBuilder, GateInputs
from mlinfer.optimizer.clean import clean_model
from mlinfer.optimizer.config import ModelOptimization
from mlinfer.optimizer.data import Dataset, load_dataset, synthetic_dataset
from mlinfer.optimizer.engine_key import KEY_SUFFIX, EngineKey
from mlinfer.optimizer.errors import DataError
from mlinfer.optimizer.inspect import ModelInfo, inspect_model
from mlinfer.optimizer.profile import profile_model
from mlinfer.optimizer.progress import Progress
from mlinfer.optimizer.publish import next_version, publish, published_config
from mlinfer.optimizer.report import REPORT_JSON, REPORT_MD, CandidateReport, Report
from mlinfer.optimizer.runner import open_session, run_dataset
from mlinfer.optimizer.settings import OptimizerSettings
from mlinfer.optimizer.source import SourceModel
from mlinfer.optimizer.tensorrt.build import Toolchain, build_engine, find_toolchain
from mlinfer.optimizer.tensorrt.profiles import derive_profiles

MIN_VALIDATION_SAMPLES = 10
MIN_CALIBRATION_SAMPLES = 10


@dataclass(frozen=True)
class OptimizeRequest:
    source: SourceModel
    config: ModelOptimization
    repository: Path | None = None
    """Publish into this Triton repository (None: report only)."""
    name: str | None = None
    version: int | None = None


@contextmanager
def _work_dir(settings: OptimizerSettings) -> Iterator[Path]:
    if settings.work_dir is not None:
        settings.work_dir.mkdir(parents=True, exist_ok=True)
        yield settings.work_dir
        return
    path = Path(tempfile.mkdtemp(prefix="mlinfer-optimize-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def load_data(
    info: ModelInfo, source: SourceModel, config: ModelOptimization, need_calibration: bool
) -> tuple[Dataset | None, Dataset]:
    """Calibration and validation sets; one source serves both as disjoint slices."""
    calib_cfg, val_cfg = config.calibration, config.validation
    image_config = source.image_config()
    calibration = None
    if need_calibration:
        if calib_cfg.source is None:
            raise _missing("calibration", "--calibration")
        calibration = load_dataset(
            calib_cfg.source,
            info,
            purpose="calibration",
            samples=calib_cfg.samples,
            minimum=MIN_CALIBRATION_SAMPLES,
            label_key=calib_cfg.labels,
            image_config=image_config,
        )
    val_source = val_cfg.source or calib_cfg.source
    if val_source is None:
        raise _missing("validation", "--validation")
    shared = val_cfg.source is None or val_cfg.source == calib_cfg.source
    validation = load_dataset(
        val_source,
        info,
        purpose="validation",
        samples=val_cfg.samples,
        minimum=MIN_VALIDATION_SAMPLES,
        label_key=val_cfg.labels,
        image_config=image_config,
        skip=len(calibration) if (shared and calibration is not None) else 0,
    )
    return calibration, validation


def _missing(purpose: str, flag: str) -> DataError:
    return DataError(
        f"{purpose} data is needed: give {flag} (.npz, .npy, image directory or "
        f"module:function) or set {purpose}.source in the config"
    )


def _profile(
    c: CandidateReport,
    validation: Dataset,
    source: SourceModel,
    config: ModelOptimization,
    progress: Progress,
    threads: int,
) -> None:
    assert c.path is not None
    sizes = config.profiling.batch_sizes or (
        1,
        *source.preferred_batch_sizes(),
        *([source.max_batch_size] if source.max_batch_size else [8]),
    )
    with progress.step(f"profiling {c.precision}"):
        c.profile = profile_model(
            c.path,
            validation,
            sizes,
            config.profiling,
            threads=threads,
            progress=lambda m: progress.report(f"[optimize]   {c.precision} {m}"),
        )


def optimize(request: OptimizeRequest, settings: OptimizerSettings, progress: Progress) -> Report:
    start = time.monotonic()
    config, source = request.config, request.source
    name = request.name or source.name
    report = Report(name, str(source.onnx_path), config.target)
    toolchain = find_toolchain(settings.trtexec) if config.target == "tensorrt" else None
    with progress.step("inspecting"):
        info = inspect_model(source.onnx_path)
        open_session(source.onnx_path)  # an op ONNX Runtime cannot run fails here, named
    needs_calibration = "int8" in config.precisions
    calibration, validation = load_data(info, source, config, needs_calibration)
    with _work_dir(settings) as work:
        with progress.step("cleaning (onnxslim, shape inference)"):
            fp32 = clean_model(source.onnx_path, work / "model.fp32.onnx", slim=config.simplify)
        with progress.step(f"FP32 reference on {len(validation)} validation samples"):
            reference = run_dataset(open_session(source.onnx_path), validation)
        builder = CandidateBuilder(
            fp32, work, config, GateInputs(validation, reference, calibration), progress
        )
        wanted = list(dict.fromkeys(config.precisions))
        report.candidates = [builder.build(p) for p in dict.fromkeys(["fp32", *wanted])]
        if "fp32" not in wanted:
            report.candidates[0].status = "reference"
        profiled = (
            ("passed", "reference", "over budget")
            if config.profiling.all_candidates
            else ("passed", "reference")
        )
        for c in report.candidates:
            if c.status in profiled and c.path is not None:
                _profile(c, validation, source, config, progress, settings.profile_threads)
        eligible = [
            c
            for c in report.candidates
            if c.status == "passed" and c.precision in wanted and c.profile is not None
        ]
        if not eligible:
            report.reason = _refusal(report, wanted)
            report.wall_s = time.monotonic() - start
            return report
        chosen = max(eligible, key=lambda c: c.profile.throughput if c.profile else 0.0)
        report.passed = True
        report.notes.append(f"chosen: {chosen.precision}, the fastest candidate within budget")
        model_file, extra = chosen.path, {}
        assert model_file is not None
        if toolchain is not None:
            model_file = work / "model.plan"
            with progress.step(f"TensorRT {toolchain.version} engine ({chosen.precision})"):
                key = _build_engine(
                    request,
                    info,
                    chosen,
                    calibration,
                    toolchain,
                    settings,
                    model_file,
                    progress,
                    fp32,
                )
            extra[model_file.name + KEY_SUFFIX] = key.to_json().encode()
            built_from = (
                "the FP32 model with its own entropy calibration (implicit INT8)"
                if "implicit_int8" in key.flags
                else "that same file"
            )
            report.notes.append(
                f"the gate ran the ONNX candidate on ONNX Runtime; TensorRT built {built_from} "
                f"(engine key {key.digest[:16]})"
            )
        if request.repository is not None:
            report.wall_s = time.monotonic() - start
            _publish(request, report, model_file, chosen.precision, info, name, extra)
    report.wall_s = time.monotonic() - start
    return report


def _refusal(report: Report, wanted: Sequence[str]) -> str:
    parts = []
    for c in report.candidates:
        if c.precision not in wanted:
            continue
        why = "; ".join(c.gate.reasons) if c.gate and c.gate.reasons else (c.error or c.status)
        parts.append(f"{c.precision}: {why}")
    return "no candidate met the budget (" + " | ".join(parts) + ")"


def _build_engine(
    request: OptimizeRequest,
    info: ModelInfo,
    chosen: CandidateReport,
    calibration: Dataset | None,
    toolchain: Toolchain,
    settings: OptimizerSettings,
    target: Path,
    progress: Progress,
    fp32: Path,
) -> EngineKey:
    assert chosen.path is not None
    source, options = request.source, request.config.tensorrt
    config_dims = {i.name: list(i.dims) for i in source.config.input} if source.config else None
    profiles = derive_profiles(
        info, source.max_batch_size, source.preferred_batch_sizes(), config_dims, options.profiles
    )
    implicit = options.int8_mode == "implicit" and chosen.precision == "int8"
    return build_engine(
        fp32 if implicit else chosen.path,  # implicit INT8: TensorRT calibrates the FP32 graph
        chosen.precision,
        profiles,
        options,
        toolchain=toolchain,
        cache_dir=settings.cache_dir,
        target=target,
        calibration=calibration if chosen.precision == "int8" else None,
        implicit_int8=implicit,
        progress=lambda m: progress.report(f"[optimize]   {m}"),
    )


def _publish(
    request: OptimizeRequest,
    report: Report,
    model_file: Path,
    precision: str,
    info: ModelInfo,
    name: str,
    extra: dict[str, bytes],
) -> None:
    assert request.repository is not None
    config = published_config(request.source, info, name, model_file.suffix, precision)
    version = request.version or next_version(request.repository / name)
    report.published = {
        "precision": precision,
        "version": version,
        "repository": str(request.repository),
        "file": model_file.name,
    }
    folder = publish(
        request.repository,
        name,
        model_file,
        config,
        source=request.source,
        extra_files={
            **extra,
            REPORT_JSON: report.to_json().encode(),
            REPORT_MD: report.to_markdown().encode(),
        },
        version=version,
    )
    report.published["path"] = str(folder)


def profile_only(
    source: SourceModel, config: ModelOptimization, settings: OptimizerSettings, progress: Progress
) -> Report:
    """``--report-only``: profile an existing model (agreement needs a reference: not here)."""
    if source.onnx_path.suffix == ".plan":
        return engine_report(source, settings, progress)
    start = time.monotonic()
    info = inspect_model(source.onnx_path)
    report = Report(source.name, str(source.onnx_path), config.target)
    if config.validation.source or config.calibration.source:
        _, data = load_data(info, source, config, need_calibration=False)
    else:
        data = synthetic_dataset(info)
        report.notes.append("no data given: profiled on synthetic inputs")
    candidate = CandidateReport(_precision_of(info), status="profiled", path=source.onnx_path)
    _profile(candidate, data, source, config, progress, settings.profile_threads)
    report.candidates.append(candidate)
    report.passed = True
    report.wall_s = time.monotonic() - start
    return report


def engine_report(source: SourceModel, settings: OptimizerSettings, progress: Progress) -> Report:
    """``--report-only`` for a TensorRT engine: refuse it unless its key matches this machine's
    TensorRT, CUDA and GPU; then time it with trtexec when trtexec is here."""
    from mlinfer.optimizer.device import current_device
    from mlinfer.optimizer.engine_key import runtime_parts, stored_parts, verify_engine
    from mlinfer.optimizer.tensorrt.trtexec import time_engine

    start = time.monotonic()
    toolchain = find_toolchain(settings.trtexec)
    device = current_device()
    verify_engine(
        source.onnx_path,
        runtime_parts(toolchain.version, device.cuda_version if device else None, device),
    )
    report = Report(source.name, str(source.onnx_path), "tensorrt")
    parts = stored_parts(source.onnx_path) or {}
    report.notes.append(f"engine key matches this machine (TensorRT {toolchain.version})")
    if toolchain.trtexec is not None:
        with progress.step("timing the engine with trtexec"):
            timing = time_engine(toolchain.trtexec, source.onnx_path)
        report.notes.append("trtexec: " + ", ".join(f"{k} {v:g}" for k, v in timing.items()))
    report.candidates.append(
        CandidateReport(str(parts.get("precision", "?")), status="profiled", path=source.onnx_path)
    )
    report.passed = True
    report.wall_s = time.monotonic() - start
    return report


def _precision_of(info: ModelInfo) -> str:
    ops = info.op_types
    if "QuantizeLinear" in ops or "QLinearConv" in ops:
        return "int8"
    if "DynamicQuantizeLinear" in ops or "MatMulInteger" in ops:
        return "int8_dynamic"
    return "fp32"
