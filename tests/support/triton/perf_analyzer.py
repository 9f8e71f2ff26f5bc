"""Run Triton's ``perf_analyzer`` (shipped in the tritonclient 2.51 wheel) and parse its CSV.

The wheel installs the binary as ``<venv>/bin/perf_analyzer``; it needs ``libb64.so.0d`` and
``libcudart.so.12``, which a CPU-only machine usually lacks. nvidia-pytriton vendors both in
``<site-packages>/nvidia_pytriton.libs`` under hashed names (``libb64-<hash>.so.0d``,
``libcudart-<hash>.so.12.x``), so ``perf_analyzer_environment`` links them under their sonames in
a cache folder and puts that folder on ``LD_LIBRARY_PATH``. libssl3 and zlib come from the OS.
"""

from __future__ import annotations

import csv
import importlib.metadata
import io
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypedDict

from typing_extensions import Unpack

from tests.support.triton.server_process import default_cache_dir, pytriton_package_dir

Protocol = Literal["http", "grpc"]
ConcurrencyRange = int | tuple[int, int] | tuple[int, int, int] | str

BINARY_NAME = "perf_analyzer"
# soname perf_analyzer asks for -> glob of the copy vendored in nvidia_pytriton.libs
_VENDORED_LIBS: dict[str, str] = {
    "libb64.so.0d": "libb64-*.so.0d*",
    "libcudart.so.12": "libcudart-*.so.12*",
}


class PerfAnalyzerNotFoundError(RuntimeError):
    """No ``perf_analyzer`` binary (tritonclient wheel) was found."""


class PerfAnalyzerError(RuntimeError):
    """``perf_analyzer`` failed or wrote no usable CSV."""


def find_perf_analyzer() -> Path:
    """Locate ``perf_analyzer``: the tritonclient wheel's files, this venv's bin, then PATH."""
    candidates: list[Path] = []
    try:
        files = importlib.metadata.files("tritonclient") or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for entry in files:
        if entry.name == BINARY_NAME:
            candidates.append(Path(str(entry.locate())).resolve())
    candidates.append(Path(sys.executable).parent / BINARY_NAME)
    scripts = sysconfig.get_path("scripts")
    if scripts:
        candidates.append(Path(scripts) / BINARY_NAME)
    try:
        import tritonclient

        package_dir = Path(next(iter(tritonclient.__path__)))
        candidates.append(package_dir / "bin" / BINARY_NAME)
    except ImportError:
        pass
    on_path = shutil.which(BINARY_NAME)
    if on_path:
        candidates.append(Path(on_path))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise PerfAnalyzerNotFoundError(
        "perf_analyzer not found (it ships in the tritonclient==2.51.0 wheel); "
        f"looked at {[str(c) for c in candidates]}"
    )


def _vendored_libs_dir() -> Path | None:
    pytriton_dir = pytriton_package_dir()
    if pytriton_dir is None:
        return None
    for candidate in (
        pytriton_dir.parent / "nvidia_pytriton.libs",
        pytriton_dir / "tritonserver" / "external_libs",
    ):
        if candidate.is_dir():
            return candidate
    return None


def prepare_library_dir(cache_dir: Path | None = None) -> Path | None:
    """Folder of soname symlinks (libb64.so.0d, libcudart.so.12) into nvidia_pytriton.libs.

    None when nvidia-pytriton is not installed (the libraries must then come from the OS,
    e.g. ``apt-get install libb64-0d`` plus a CUDA runtime).
    """
    vendored = _vendored_libs_dir()
    if vendored is None:
        return None
    target = (cache_dir or default_cache_dir()) / "perf_analyzer-libs"
    target.mkdir(parents=True, exist_ok=True)
    for soname, pattern in _VENDORED_LIBS.items():
        matches = sorted(vendored.glob(pattern))
        if not matches:
            continue
        link = target / soname
        if link.is_symlink() and link.resolve() == matches[0].resolve():
            continue
        staging = target / f".{soname}.{uuid.uuid4().hex}"
        staging.symlink_to(matches[0])
        os.replace(staging, link)  # atomic: concurrent callers are safe
    return target


def perf_analyzer_environment(
    base: Mapping[str, str] | None = None, cache_dir: Path | None = None
) -> dict[str, str]:
    """Environment in which ``perf_analyzer`` finds its shared libraries."""
    env = dict(os.environ if base is None else base)
    libs = prepare_library_dir(cache_dir)
    if libs is not None:
        current = env.get("LD_LIBRARY_PATH", "")
        env["LD_LIBRARY_PATH"] = f"{libs}{os.pathsep}{current}" if current else str(libs)
    return env


def perf_analyzer_version(binary: Path | None = None, timeout_s: float = 30.0) -> str:
    """``perf_analyzer --version`` output; raise ``PerfAnalyzerError`` if it cannot run."""
    exe = binary or find_perf_analyzer()
    proc = subprocess.run(
        [str(exe), "--version"],
        env=perf_analyzer_environment(),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if proc.returncode != 0:
        raise PerfAnalyzerError(f"{exe} --version failed ({proc.returncode}): {proc.stderr}")
    text = (proc.stdout.strip() or proc.stderr.strip()).splitlines()  # 2.51 prints to stderr
    return text[0] if text else ""


def _format_range(value: ConcurrencyRange) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    return ":".join(str(v) for v in value)


class PerfOptions(TypedDict, total=False):
    """Options of :func:`perf_analyzer_command` and :func:`run_perf_analyzer` (None = unset)."""

    model_version: str | None
    batch_size: int | None
    request_rate_range: ConcurrencyRange | None
    measurement_interval_ms: int | None
    measurement_mode: Literal["time_windows", "count_windows"] | None
    measurement_request_count: int | None
    stability_percentage: float | None
    max_trials: int | None
    percentile: int | None
    shapes: Mapping[str, Sequence[int]] | None
    input_data: str | Path | None
    async_mode: bool
    verbose_csv: bool
    extra_args: Sequence[str] | None
    binary: Path | None


def perf_analyzer_command(
    model: str,
    url: str,
    protocol: Protocol = "grpc",
    concurrency_range: ConcurrencyRange | None = 1,
    *,
    csv_file: Path | None = None,
    **options: Unpack[PerfOptions],
) -> list[str]:
    """The ``perf_analyzer`` argument vector (``url`` is ``host:port``, no scheme).

    ``concurrency_range`` is an int, ``(start, end[, step])`` or ``"start:end:step"``; pass
    ``request_rate_range`` (and ``concurrency_range=None``) for request-rate mode.
    """
    if protocol not in ("http", "grpc"):
        raise ValueError(f"protocol must be 'http' or 'grpc', got {protocol!r}")
    o = options
    args = [str(o.get("binary") or find_perf_analyzer()), "-m", model, "-u", url, "-i", protocol]
    flags: list[tuple[str, object]] = [
        ("-x", o.get("model_version")),
        ("-b", o.get("batch_size")),
        ("--measurement-interval", o.get("measurement_interval_ms")),
        ("--measurement-mode", o.get("measurement_mode")),
        ("--measurement-request-count", o.get("measurement_request_count")),
        ("-s", o.get("stability_percentage")),
        ("-r", o.get("max_trials")),
        ("--percentile", o.get("percentile")),
        ("--input-data", o.get("input_data")),
        ("-f", csv_file),
    ]
    rate = o.get("request_rate_range")
    if rate is not None:
        args += ["--request-rate-range", _format_range(rate)]
    elif concurrency_range is not None:
        args += ["--concurrency-range", _format_range(concurrency_range)]
    for flag, value in flags:
        if value is not None:
            args += [flag, str(value)]
    for name, dims in (o.get("shapes") or {}).items():
        args += ["--shape", f"{name}:{','.join(str(d) for d in dims)}"]
    if o.get("async_mode"):
        args.append("-a")
    if o.get("verbose_csv"):
        args.append("--verbose-csv")
    args.extend(o.get("extra_args") or ())
    return args


@dataclass(frozen=True)
class PerfRow:
    """One measured load level (a row of perf_analyzer's CSV); latencies in microseconds."""

    concurrency: int | None
    request_rate: float | None
    throughput: float
    """Inferences per second."""
    p50_us: float | None
    p90_us: float | None
    p95_us: float | None
    p99_us: float | None
    avg_latency_us: float | None
    """Only with ``verbose_csv=True``."""
    columns: dict[str, str] = field(default_factory=dict)
    """Every CSV column as written (server queue, compute input/infer/output, ...)."""


@dataclass(frozen=True)
class PerfResult:
    rows: list[PerfRow]
    command: list[str]
    output: str
    """perf_analyzer's stdout and stderr."""

    @property
    def max_throughput(self) -> float:
        return max((r.throughput for r in self.rows), default=0.0)

    def at_concurrency(self, concurrency: int) -> PerfRow:
        for row in self.rows:
            if row.concurrency == concurrency:
                return row
        raise KeyError(concurrency)


def _number(value: str | None) -> float | None:
    if value is None or value.strip() == "":
        return None
    try:
        return float(value)
    except ValueError:
        return None


def parse_perf_csv(text: str) -> list[PerfRow]:
    """Parse the CSV that ``perf_analyzer -f`` writes (first table; header row first)."""
    reader = csv.reader(io.StringIO(text))
    header: list[str] | None = None
    rows: list[PerfRow] = []
    for record in reader:
        if not record or all(not cell.strip() for cell in record):
            if header is not None and rows:
                break  # end of the first table
            continue
        if header is None:
            header = [cell.strip() for cell in record]
            continue
        columns = dict(zip(header, (cell.strip() for cell in record), strict=False))
        throughput = _number(columns.get("Inferences/Second"))
        if throughput is None:
            continue
        concurrency = _number(columns.get("Concurrency"))
        rows.append(
            PerfRow(
                concurrency=int(concurrency) if concurrency is not None else None,
                request_rate=_number(columns.get("Request Rate")),
                throughput=throughput,
                p50_us=_number(columns.get("p50 latency")),
                p90_us=_number(columns.get("p90 latency")),
                p95_us=_number(columns.get("p95 latency")),
                p99_us=_number(columns.get("p99 latency")),
                avg_latency_us=_number(columns.get("Avg latency")),
                columns=columns,
            )
        )
    return rows


def run_perf_analyzer(
    model: str,
    url: str,
    protocol: Protocol = "grpc",
    concurrency_range: ConcurrencyRange | None = 1,
    *,
    timeout_s: float | None = 600.0,
    env: Mapping[str, str] | None = None,
    **options: Unpack[PerfOptions],
) -> PerfResult:
    """Run ``perf_analyzer`` against a live server and return its parsed CSV.

    Raise ``PerfAnalyzerError`` (with perf_analyzer's output) on failure.
    """
    with tempfile.TemporaryDirectory(prefix="perf_analyzer-") as tmp:
        csv_path = Path(tmp) / "results.csv"
        cmd = perf_analyzer_command(
            model, url, protocol, concurrency_range, csv_file=csv_path, **options
        )
        run_env = perf_analyzer_environment(base=env)
        try:
            proc = subprocess.run(
                cmd,
                env=run_env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise PerfAnalyzerError(f"perf_analyzer timed out after {timeout_s}s: {cmd}") from exc
        output = proc.stdout or ""
        if proc.returncode != 0:
            raise PerfAnalyzerError(
                f"perf_analyzer exited with {proc.returncode}: {' '.join(cmd)}\n{output[-4000:]}"
            )
        if not csv_path.exists():
            raise PerfAnalyzerError(
                f"perf_analyzer wrote no CSV: {' '.join(cmd)}\n{output[-4000:]}"
            )
        rows = parse_perf_csv(csv_path.read_text(encoding="utf-8"))
    if not rows:
        raise PerfAnalyzerError(f"no result rows in perf_analyzer CSV\n{output[-4000:]}")
    return PerfResult(rows=rows, command=cmd, output=output)
