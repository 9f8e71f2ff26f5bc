"""Single measurements for the benchmark driver, each returning one result row (a dict).

A row always has the same keys (see ``ROW_KEYS``); a failed measurement keeps its labels and
carries the error text, so that one failure shows up in the report instead of ending the run.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.host import CpuMeter, CpuUsage, wait_for_quiet

ROW_KEYS = (
    "section",
    "model",
    "server",
    "tool",
    "protocol",
    "encoding",
    "concurrency",
    "batch_size",
    "batching",
    "infer_per_s",
    "requests_per_s",
    "p50_ms",
    "p90_ms",
    "p95_ms",
    "p99_ms",
    "errors",
    "client_cpu_ms_per_request",
    "own_cpu_pct",
    "background_cpu_pct",
    "rss_mb",
    "note",
    "error",
    "command",
    "started",
    "seconds",
)


def new_row(**labels: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(ROW_KEYS)
    row.update(labels)
    return row


@dataclass(frozen=True)
class Quiet:
    """Wait for other load on the machine to fade before each measurement."""

    threshold_percent: float = 20.0
    max_wait_s: float = 10.0

    def wait(self, exclude: Sequence[int]) -> float:
        return wait_for_quiet(self.threshold_percent, self.max_wait_s, 0.5, exclude)


@contextmanager
def measuring(row: dict[str, Any], pids: Sequence[int], quiet: Quiet | None) -> Iterator[None]:
    """Time the block, attribute CPU, catch and record any failure in ``row``."""
    import os

    watched = [os.getpid(), *pids]
    if quiet is not None:
        quiet.wait(watched)
    meter = CpuMeter(watched).start()
    row["started"] = time.strftime("%H:%M:%S")
    t0 = time.monotonic()
    try:
        yield
    except Exception as exc:  # the driver goes on; the report shows the failure
        row["error"] = f"{type(exc).__name__}: {exc}"[-2000:]
        row["note"] = row.get("note") or traceback.format_exc(limit=3)[-600:]
    finally:
        usage: CpuUsage = meter.stop()
        row["seconds"] = round(time.monotonic() - t0, 1)
        row["own_cpu_pct"] = round(usage.own_percent, 1)
        row["background_cpu_pct"] = round(usage.background_percent, 1)


@dataclass(frozen=True)
class PerfWindow:
    """perf_analyzer measurement settings."""

    interval_ms: int
    stability_percent: float = 25.0
    max_trials: int = 5
    min_requests: int | None = None
    """Count windows: each window lasts until max(min_requests, 2 x concurrency) replies
    (for slow models, whose replies at high concurrency take longer than a time window)."""

    def request_count(self, concurrency: int) -> int | None:
        if self.min_requests is None:
            return None
        return max(self.min_requests, 2 * concurrency)


def perf_analyzer_row(
    row: dict[str, Any],
    *,
    model: str,
    url: str,
    protocol: str,
    concurrency: int,
    window: PerfWindow,
    input_data: Path | None = None,
    batch_size: int = 1,
) -> None:
    """Fill ``row`` from one perf_analyzer run (retried once, loosely, if it never settles)."""
    from tests.support.triton.perf_analyzer import PerfAnalyzerError, run_perf_analyzer

    count = window.request_count(concurrency)

    def run(stability: float, trials: int) -> Any:
        return run_perf_analyzer(
            model,
            url,
            "grpc" if protocol == "grpc" else "http",
            concurrency,
            batch_size=batch_size,
            measurement_interval_ms=window.interval_ms,
            measurement_mode="count_windows" if count else "time_windows",
            measurement_request_count=count,
            stability_percentage=stability,
            max_trials=trials,
            input_data=input_data,
            timeout_s=max(300.0, window.interval_ms / 1000 * (trials + 2) * 3),
        )

    try:
        result = run(window.stability_percent, window.max_trials)
    except PerfAnalyzerError as exc:
        if "stable" not in str(exc):
            raise
        result = run(100.0, 3)
        row["note"] = (
            f"perf_analyzer found no 3 windows within {window.stability_percent:.0f}% of "
            "each other; this is the 3-window figure without the stability check"
        )
    perf = result.rows[0]
    command = list(result.command)
    command[0] = Path(command[0]).name
    if "-f" in command:  # the temporary CSV path says nothing
        index = command.index("-f")
        del command[index : index + 2]
    row["command"] = shlex.join(command)
    row.update(
        infer_per_s=perf.throughput,
        requests_per_s=perf.throughput / batch_size,
        p50_ms=_ms(perf.p50_us),
        p90_ms=_ms(perf.p90_us),
        p95_ms=_ms(perf.p95_us),
        p99_ms=_ms(perf.p99_us),
        errors=0,
    )


def _ms(us: float | None) -> float | None:
    return None if us is None else us / 1000.0


def loadgen_row(
    row: dict[str, Any],
    *,
    model: str,
    url: str,
    protocol: str,
    encoding: str,
    concurrency: int,
    duration_s: float,
    warmup_s: float,
    batch_size: int = 1,
    workers: int = 1,
) -> None:
    """Fill ``row`` from one ``mlinfer bench`` level (run in this process)."""
    from mlinfer.bench.loadgen import LoadConfig, run_load

    config = LoadConfig(
        url=url,
        model=model,
        protocol=protocol,
        encoding=encoding,
        batch_size=batch_size,
        concurrency=(concurrency,),
        duration_s=duration_s,
        warmup_s=warmup_s,
        workers=workers,
    )
    row["command"] = (
        f"mlinfer bench {model} -u {url} -i {protocol}"
        + (f" --encoding {encoding}" if protocol == "http" else "")
        + f" -b {batch_size} -c {concurrency} -d {duration_s:g} --warmup {warmup_s:g}"
    )
    (level,) = run_load(config)
    lat = level.latency_ms
    row.update(
        infer_per_s=level.infer_per_s,
        requests_per_s=level.requests_per_s,
        p50_ms=lat.get("p50"),
        p90_ms=lat.get("p90"),
        p95_ms=lat.get("p95"),
        p99_ms=lat.get("p99"),
        errors=level.errors,
        client_cpu_ms_per_request=level.client_cpu_ms_per_request,
    )
    if level.errors:
        row["note"] = f"{level.errors} errors, e.g. {next(iter(level.error_messages), '')}"


def ceiling_row(
    row: dict[str, Any], model_dir: Path, batches: Sequence[int], seconds: float
) -> dict[str, Any]:
    """Raw ONNX Runtime throughput sweep in a child process; fill ``row`` with the best point."""
    cmd = [
        sys.executable,
        "-m",
        "bench.ceiling",
        str(model_dir),
        "--batches",
        ",".join(str(b) for b in batches),
        "--seconds",
        f"{seconds:g}",
    ]
    row["command"] = shlex.join(["python", *cmd[1:]])
    # `bench` is a package of the checkout: run from its root.
    checkout = Path(__file__).resolve().parent.parent
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=1800, check=False, cwd=checkout
    )
    if proc.returncode != 0:
        raise RuntimeError(f"ceiling measurement failed: {proc.stderr[-1500:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    best = result["best"]
    row.update(
        infer_per_s=best["infer_per_s"],
        batch_size=best["batch_size"],
        p50_ms=best["batch_latency_ms"],
        note=(
            f"{result['instances']} session(s) x {result['intra_op_threads']} intra-op "
            f"thread(s); {'sweep ' if len(result['points']) > 1 else ''}"
            + ", ".join(f"b{p['batch_size']}: {p['infer_per_s']:.1f}/s" for p in result["points"])
        ),
    )
    return result


def write_input_data(arrays_for: Callable[[], dict[str, Any]], directory: Path) -> Path:
    """perf_analyzer ``--input-data`` file with the same data the load generator sends."""
    from mlinfer.bench.inputs import perf_analyzer_input_data

    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", suffix=".json", dir=directory, delete=False, encoding="utf-8"
    ) as handle:
        json.dump(perf_analyzer_input_data(arrays_for()), handle)
    return Path(handle.name)
