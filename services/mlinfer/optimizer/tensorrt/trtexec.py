"""Building with the ``trtexec`` binary when the Python module is absent (e.g. a slim image).

Flags differ between releases: TensorRT 8.5 sizes the workspace with ``--memPoolSize=
workspace:<MiB>`` and builds without running with ``--buildOnly``; TensorRT 10 takes unit
suffixes, ``--skipInference`` and ``--stronglyTyped``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mlinfer.optimizer.errors import OptimizerError, ToolUnavailableError
from mlinfer.optimizer.tensorrt.profiles import InputProfile

_VERSION = re.compile(r"TensorRT v(\d+)")
_THROUGHPUT = re.compile(r"Throughput:\s*([\d.]+)\s*qps")
_LATENCY = re.compile(
    r"Latency:.*?mean = ([\d.]+) ms.*?median = ([\d.]+) ms.*?percentile\(99%\) = ([\d.]+) ms"
)


@dataclass(frozen=True)
class BuildFlags:
    precision: str  # fp32 | fp16 | int8
    workspace_mib: int = 1024
    timing_cache: Path | None = None
    dla_core: int | None = None
    gpu_fallback: bool = True
    strongly_typed: bool = False
    calibration_cache: Path | None = None
    """Implicit INT8 (TensorRT 8.x): a calibration cache written by the API's calibrator."""

    def names(self) -> list[str]:
        flags = [self.precision, f"workspace={self.workspace_mib}MiB"]
        if self.dla_core is not None:
            flags += [f"dla={self.dla_core}", f"gpu_fallback={self.gpu_fallback}"]
        if self.strongly_typed:
            flags.append("strongly_typed")
        if self.calibration_cache is not None:
            flags.append("implicit_int8")
        return flags


def parse_version(banner: str) -> str | None:
    """``[TensorRT v8502]`` -> ``8.5.2``; ``v100300`` -> ``10.3.0``."""
    found = _VERSION.search(banner)
    if not found:
        return None
    code = int(found.group(1))
    if code >= 100000:  # TensorRT 10 encodes major*10000 + minor*100 + patch
        return f"{code // 10000}.{(code // 100) % 100}.{code % 100}"
    return f"{code // 1000}.{(code // 100) % 10}.{code % 100}"


def find_trtexec(name: str) -> str | None:
    return shutil.which(name) or next(
        (str(p) for p in (Path("/usr/src/tensorrt/bin/trtexec"),) if p.is_file()), None
    )


def trtexec_version(binary: str) -> str:
    try:
        done = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=60)
    except OSError as exc:
        raise ToolUnavailableError(f"cannot run {binary}: {exc.strerror}") from None
    version = parse_version(done.stdout + done.stderr)
    if version is None:
        raise ToolUnavailableError(f"{binary} did not report a TensorRT version")
    return version


def _shape(shape: Sequence[int]) -> str:
    return "x".join(str(d) for d in shape)


def command(
    binary: str,
    onnx: Path,
    engine: Path,
    profiles: Sequence[InputProfile],
    flags: BuildFlags,
    version: str,
) -> list[str]:
    major = int(version.split(".")[0])
    cmd = [binary, f"--onnx={onnx}", f"--saveEngine={engine}"]
    if profiles:
        for option, pick in (("min", 0), ("opt", 1), ("max", 2)):
            shapes = ",".join(f"{p.name}:{_shape(p.as_lists()[pick])}" for p in profiles)
            cmd.append(f"--{option}Shapes={shapes}")
    unit = "M" if major >= 10 else ""
    cmd.append(f"--memPoolSize=workspace:{flags.workspace_mib}{unit}")
    if flags.strongly_typed and major >= 10:
        cmd.append("--stronglyTyped")
    else:
        if flags.precision in ("fp16", "int8"):
            cmd.append("--fp16")  # INT8 layers without Q/DQ scales fall back to FP16, not FP32
        if flags.precision == "int8":
            cmd.append("--int8")
            if flags.calibration_cache is not None:
                cmd.append(f"--calib={flags.calibration_cache}")
    if flags.timing_cache is not None:
        cmd.append(f"--timingCacheFile={flags.timing_cache}")
    if flags.dla_core is not None:
        cmd.append(f"--useDLACore={flags.dla_core}")
        if flags.gpu_fallback:
            cmd.append("--allowGPUFallback")
    cmd.append("--skipInference" if major >= 10 else "--buildOnly")
    return cmd


def build_with_trtexec(
    binary: str,
    onnx: Path,
    engine: Path,
    profiles: Sequence[InputProfile],
    flags: BuildFlags,
    version: str,
    progress: Callable[[str], None],
) -> None:
    if flags.calibration_cache is not None and not flags.calibration_cache.is_file():
        raise OptimizerError(
            "trtexec cannot calibrate on real data: implicit INT8 needs a calibration cache "
            "from the Python API; build the Q/DQ model (explicit INT8) instead"
        )
    cmd = command(binary, onnx, engine, profiles, flags, version)
    progress("running " + " ".join(cmd))
    try:
        process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    except OSError as exc:
        raise ToolUnavailableError(f"cannot run {binary}: {exc.strerror}") from None
    with process as p:
        assert p.stdout is not None
        tail: list[str] = []
        for line in p.stdout:  # trtexec logs its tactic search: pass it on as progress
            tail = ([*tail, line.rstrip()])[-20:]
            if "[E]" in line or "Engine built" in line or "Timing cache" in line:
                progress(line.rstrip())
        code = p.wait()
    if code != 0 or not engine.is_file():
        raise OptimizerError(f"trtexec failed (exit {code}):\n" + "\n".join(tail))


def parse_timing(output: str) -> dict[str, float]:
    """Throughput and latency lines of a trtexec run (for the report on TensorRT targets)."""
    result: dict[str, float] = {}
    found = _THROUGHPUT.search(output)
    if found:
        result["throughput_qps"] = float(found.group(1))
    found = _LATENCY.search(output.replace("\n", " "))
    if found:
        result["mean_ms"], result["p50_ms"], result["p99_ms"] = map(float, found.groups())
    return result


def time_engine(binary: str, engine: Path) -> dict[str, float]:
    """Load ``engine`` with trtexec and time it (its default warm-up and duration)."""
    try:
        done = subprocess.run(
            [binary, f"--loadEngine={engine}"], capture_output=True, text=True, timeout=600
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise ToolUnavailableError(f"cannot run {binary}: {exc}") from None
    if done.returncode != 0:
        raise OptimizerError(f"trtexec could not run {engine}:\n{done.stdout[-2000:]}")
    return parse_timing(done.stdout)
