"""mlinfer serving TorchScript models on the GPU, loaded by perf_analyzer, watched by NVML.

One ``mlinfer serve`` process (REST + gRPC) per model, with the batched model and its
``_nobatch`` twin loaded. Each level is one perf_analyzer run of batch-1 requests at a fixed
concurrency; around it the server's statistics give the batch size it formed (inferences /
executions) and a sampler thread reads NVML's GPU utilization every 100 ms.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench.gpu_ceiling import random_inputs
from bench.torchscript_models import NOBATCH, TorchBenchModel


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(
        self, repo: Path, models: Sequence[str], log: Path, switch_interval_s: float = 0.0
    ) -> None:
        self.http_port, self.grpc_port = _free_port(), _free_port()
        # An experiment, not a setting: the interpreter's GIL switch interval (default 5 ms).
        launcher = (
            ["-c", "import runpy, sys; sys.setswitchinterval(float(sys.argv.pop(1))); "
             "sys.argv[0] = 'mlinfer'; runpy.run_module('mlinfer', run_name='__main__')",
             str(switch_interval_s)]
            if switch_interval_s
            else ["-m", "mlinfer"]
        )  # fmt: skip
        self.command = [
            sys.executable, *launcher, "serve", "--host", "127.0.0.1",
            "--http-port", str(self.http_port), "--grpc-port", str(self.grpc_port),
            "--model-repository", str(repo), "--model-control-mode", "explicit",
            "--log-level", "WARNING",
        ]  # fmt: skip
        for m in models:
            self.command += ["--load-model", m]
        self.models = list(models)
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        env = {**os.environ, "MLINFER_AUTH_MODE": "disabled", "PYTHONUNBUFFERED": "1"}
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(self.command, env=env, stdout=log, stderr=log)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mlinfer exited ({self.proc.returncode}); see {self.log}")
            if all(self._ready(m) for m in self.models):
                return self
            time.sleep(0.5)
        raise RuntimeError(f"models {self.models} not ready after 300 s; see {self.log}")

    def _ready(self, model: str) -> bool:
        try:
            url = f"http://127.0.0.1:{self.http_port}/v2/models/{model}/ready"
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def counts(self, model: str) -> tuple[int, int]:
        url = f"http://127.0.0.1:{self.http_port}/v2/models/{model}/stats"
        stats = httpx.get(url, timeout=10).json()["model_stats"][0]
        return int(stats["inference_count"]), int(stats["execution_count"])


class GpuSampler:
    """NVML utilization (percent of time a kernel ran) every 100 ms while active."""

    def __init__(self) -> None:
        try:
            import pynvml

            pynvml.nvmlInit()
            self._nvml: Any = pynvml
            self._handle = pynvml.nvmlDeviceGetHandleByIndex(0)
        except Exception as exc:  # no NVML (a CPU smoke run): no samples
            print(f"NVML unavailable: {exc}", flush=True)
            self._nvml = None
        self._samples: list[int] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @contextmanager
    def sampling(self) -> Iterator[list[int]]:
        self._samples = []
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        try:
            yield self._samples
        finally:
            self._stop.set()
            self._thread.join()

    def _loop(self) -> None:
        while self._nvml is not None and not self._stop.wait(0.1):
            rates = self._nvml.nvmlDeviceGetUtilizationRates(self._handle)
            self._samples.append(int(rates.gpu))


def perf_input_file(model: TorchBenchModel, directory: Path) -> Path | None:
    """Valid token ids for BERT (random ones would index past the vocabulary on the GPU)."""
    if model.build == "resnet50":
        return None  # perf_analyzer's random FP32 data is a valid image tensor
    arrays = random_inputs(model, 1, 99)
    sample = {k: {"content": v[0].tolist(), "shape": list(v.shape[1:])} for k, v in arrays.items()}
    path = directory / f"{model.name}-input.json"
    path.write_text(json.dumps({"data": [sample]}))
    return path


def sweep(
    server: Server,
    model: TorchBenchModel,
    levels: Sequence[tuple[str, str, int]],  # (protocol, "on" | "off", concurrency)
    input_data: Path | None,
    sampler: GpuSampler,
    interval_ms: int,
) -> list[dict[str, Any]]:
    from tests.support.triton.perf_analyzer import PerfAnalyzerError, run_perf_analyzer

    rows = []
    for protocol, batching, concurrency in levels:
        name = model.name if batching == "on" else model.name + NOBATCH
        port = server.http_port if protocol == "http" else server.grpc_port
        before = server.counts(name)
        started = time.monotonic()
        with sampler.sampling() as util:
            try:
                result = run_perf_analyzer(
                    name, f"127.0.0.1:{port}", protocol, concurrency,  # type: ignore[arg-type]
                    measurement_interval_ms=interval_ms, stability_percentage=15, max_trials=6,
                    input_data=input_data, timeout_s=120,
                )  # fmt: skip
            except PerfAnalyzerError as exc:
                print(f"  {protocol} c={concurrency} batching {batching}: FAILED {exc}", flush=True)
                rows.append({"model": model.name, "protocol": protocol, "batching": batching,
                             "concurrency": concurrency, "error": str(exc)[-2000:]})  # fmt: skip
                continue
        after = server.counts(name)
        row = result.rows[0]
        inferences, executions = after[0] - before[0], after[1] - before[1]
        cols = row.columns
        rows.append(
            {
                "model": model.name,
                "protocol": protocol,
                "batching": batching,
                "concurrency": concurrency,
                "infer_per_s": round(row.throughput, 1),
                "p50_ms": _ms(row.p50_us),
                "p99_ms": _ms(row.p99_us),
                "mean_batch": round(inferences / executions, 2) if executions else None,
                "gpu_util_mean": round(sum(util) / len(util), 1) if util else None,
                "gpu_util_max": max(util) if util else None,
                "server_queue_us": cols.get("Server Queue"),
                "server_compute_infer_us": cols.get("Server Compute Infer"),
                "seconds": round(time.monotonic() - started, 1),
                "command": "perf_analyzer " + " ".join(result.command[1:]),
            }
        )
        r = rows[-1]
        print(
            f"  {protocol:4} c={concurrency:<3} batching {batching:3}: {r['infer_per_s']:>9}/s "
            f"p50 {r['p50_ms']} ms p99 {r['p99_ms']} ms batch {r['mean_batch']} "
            f"GPU {r['gpu_util_mean']}%",
            flush=True,
        )
    return rows


def _ms(us: float | None) -> float | None:
    return None if us is None else round(us / 1000, 3)


def profile(server: Server, seconds: int, out: Path) -> dict[str, Any]:
    """py-spy samples of the server process (all threads, active samples only)."""
    assert server.proc is not None
    raw = out.with_suffix(".txt")
    cmd = ["py-spy", "record", "--pid", str(server.proc.pid), "--duration", str(seconds),
           "--rate", "200", "--nonblocking", "--threads", "--format", "raw",
           "-o", str(raw)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    summary: dict[str, Any] = {"command": " ".join(cmd), "rc": proc.returncode,
                               "stderr": proc.stderr[-1500:]}  # fmt: skip
    if raw.is_file():
        summary.update(summarize_profile(raw.read_text()))
    return summary


def summarize_profile(text: str, top: int = 25) -> dict[str, Any]:
    """Self and inclusive sample counts per function from py-spy's collapsed stacks."""
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    threads: dict[str, int] = {}
    total = 0
    for line in text.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        threads[frames[0]] = threads.get(frames[0], 0) + count
        leaf = frames[-1]
        own[leaf] = own.get(leaf, 0) + count
        for frame in set(frames[1:]):
            inclusive[frame] = inclusive.get(frame, 0) + count

    def ranked(d: dict[str, int]) -> list[tuple[str, float]]:
        return [
            (k, round(100 * v / total, 1))
            for k, v in sorted(d.items(), key=lambda kv: -kv[1])[:top]
        ]

    return {"samples": total, "threads_pct": ranked(threads), "self_pct": ranked(own),
            "inclusive_pct": ranked(inclusive)}  # fmt: skip
