"""``mlinfer bench``: a closed-loop load generator for users without ``perf_analyzer``.

For each concurrency level, ``concurrency`` request slots each keep one request in flight
(send, wait for the reply, send again) for a warmup, then for a measurement window (a duration
or a request count). Throughput counts the replies that completed inside the window; latency
percentiles are over those replies. With ``workers > 1`` the slots are spread over that many
processes (each with its own event loop), for when one Python process cannot generate enough
load; the CPU each level cost the client is reported so that its share of the machine shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, TextIO

from mlinfer.bench.inputs import (
    ModelMeta,
    Payload,
    fetch_model_meta,
    grpc_payload,
    http_payload,
    make_inputs,
)
from mlinfer.bench.stats import LevelResult, WorkerSamples, aggregate
from mlinfer.bench.transports import GrpcFactory, HttpFactory, RequestError, SenderFactory

PROTOCOLS = ("http", "grpc")
ENCODINGS = ("binary", "json")


@dataclass(frozen=True)
class LoadConfig:
    url: str
    """``host:port`` of the server's HTTP or gRPC endpoint (per ``protocol``)."""
    model: str
    protocol: str = "http"
    encoding: str = "binary"
    """HTTP only: ``binary`` (tensor data extension) or ``json`` (tensors as JSON lists)."""
    version: str = ""
    batch_size: int = 1
    concurrency: tuple[int, ...] = (1,)
    duration_s: float = 10.0
    requests: int | None = None
    """Per level: measure this many replies instead of a duration."""
    warmup_s: float = 2.0
    workers: int = 1
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    dynamic_dim: int = 8
    int_range: tuple[int, int] = (0, 2)
    timeout_s: float | None = 300.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {PROTOCOLS}, got {self.protocol!r}")
        if self.encoding not in ENCODINGS:
            raise ValueError(f"encoding must be one of {ENCODINGS}, got {self.encoding!r}")
        if self.protocol == "grpc" and self.encoding == "json":
            raise ValueError("gRPC has no JSON encoding: use --encoding binary with grpc")
        if not self.concurrency or min(self.concurrency) < 1:
            raise ValueError(f"concurrency levels must be >= 1, got {self.concurrency}")
        if self.workers < 1 or self.batch_size < 1:
            raise ValueError("workers and batch size must be >= 1")
        if self.requests is None and self.duration_s <= 0:
            raise ValueError("give a positive duration or a request count")

    @property
    def effective_encoding(self) -> str:
        return "protobuf" if self.protocol == "grpc" else self.encoding


def build_payload(config: LoadConfig, meta: ModelMeta) -> Payload:
    arrays = make_inputs(
        meta,
        config.batch_size,
        shapes=config.shapes,
        dynamic_dim=config.dynamic_dim,
        int_range=config.int_range,
        seed=config.seed,
    )
    if config.protocol == "grpc":
        return grpc_payload(meta, arrays)
    return http_payload(meta, arrays, binary=config.encoding == "binary")


def _factory(config: LoadConfig, payload: Payload) -> SenderFactory:
    if config.protocol == "grpc":
        return GrpcFactory(config.url, payload, config.timeout_s)
    return HttpFactory(config.url, payload)


# -- one process: slots on an event loop --------------------------------------------------
@dataclass
class _Window:
    warmup_end_ns: int
    end_ns: int | None
    target: int | None
    """Stop after this many replies in the window (request-count mode)."""
    samples: WorkerSamples = field(default_factory=WorkerSamples)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    last_ns: int = 0
    cpu_start: float | None = None

    def finished(self, now_ns: int) -> bool:
        if self.end_ns is not None and now_ns >= self.end_ns:
            return True
        return self.target is not None and len(self.samples.latencies_ns) >= self.target


async def _slot(factory: SenderFactory, window: _Window) -> None:
    sender = await factory.open()
    try:
        while not window.done.is_set():
            start = time.perf_counter_ns()
            if window.finished(start):
                break
            error: str | None = None
            try:
                await sender.send()
            except RequestError as exc:
                error = str(exc)
            end = time.perf_counter_ns()
            if end < window.warmup_end_ns:
                continue
            if window.end_ns is not None and end > window.end_ns:
                break
            if error is None:
                window.samples.latencies_ns.append(end - start)
            else:
                window.samples.error(error)
            window.last_ns = end
            if window.target is not None and len(window.samples.latencies_ns) >= window.target:
                window.done.set()
    finally:
        await sender.close()


async def run_level_async(
    config: LoadConfig,
    payload: Payload,
    concurrency: int,
    requests: int | None,
    progress: Callable[[float, int], None] | None = None,
) -> WorkerSamples:
    """Run ``concurrency`` slots in this process for one level; return what it measured."""
    if concurrency == 0:
        return WorkerSamples()
    factory = _factory(config, payload)
    now = time.perf_counter_ns()
    warmup_end = now + int(config.warmup_s * 1e9)
    end = None if requests is not None else warmup_end + int(config.duration_s * 1e9)
    window = _Window(warmup_end, end, requests)
    loop = asyncio.get_running_loop()
    loop.call_later(config.warmup_s, lambda: setattr(window, "cpu_start", time.process_time()))
    tasks = [asyncio.create_task(_slot(factory, window)) for _ in range(concurrency)]
    reporter = asyncio.create_task(_report(window, config, progress)) if progress else None
    try:
        if requests is not None:
            await _until_done_or_failed(window, tasks)
        else:
            await asyncio.wait(tasks, timeout=(end - time.perf_counter_ns()) / 1e9 if end else None)
        window.done.set()
        for task in tasks:
            if not task.done():
                task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        if reporter is not None:
            reporter.cancel()
        await factory.close()
    failures = [
        r
        for r in results
        if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError)
    ]
    if failures and not window.samples.latencies_ns:
        raise RuntimeError(f"load generation failed: {failures[0]!r}") from failures[0]
    for failure in failures:
        window.samples.error(f"{type(failure).__name__}: {failure}")
    cpu_end = time.process_time()
    stop_ns = window.end_ns if window.end_ns is not None else window.last_ns
    window.samples.window_s = max(stop_ns - window.warmup_end_ns, 0) / 1e9
    window.samples.cpu_s = cpu_end - window.cpu_start if window.cpu_start is not None else 0.0
    return window.samples


async def _until_done_or_failed(window: _Window, tasks: list[asyncio.Task[None]]) -> None:
    done_wait = asyncio.create_task(window.done.wait())
    try:
        pending: set[asyncio.Future[Any]] = {done_wait, *tasks}
        while pending and not window.done.is_set():
            _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            if all(t.done() for t in tasks):
                break
    finally:
        done_wait.cancel()


async def _report(
    window: _Window, config: LoadConfig, progress: Callable[[float, int], None]
) -> None:
    total_ns = config.warmup_s * 1e9 + (config.duration_s * 1e9 if window.end_ns else 0)
    start = window.warmup_end_ns - config.warmup_s * 1e9
    while True:
        now = time.perf_counter_ns()
        count = len(window.samples.latencies_ns)
        if window.target:
            fraction = count / window.target if now >= window.warmup_end_ns else 0.0
        else:
            fraction = (now - start) / total_ns if total_ns else 1.0
        progress(min(fraction, 1.0), count)
        await asyncio.sleep(0.25)


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop

        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    except ImportError:
        loop = asyncio.new_event_loop()
    return loop


# -- several processes ----------------------------------------------------------------------
def split_concurrency(concurrency: int, workers: int) -> list[int]:
    """Spread ``concurrency`` slots over ``workers`` as evenly as possible (first ones more)."""
    base, extra = divmod(concurrency, workers)
    return [base + (1 if i < extra else 0) for i in range(workers)]


def _worker_main(conn: Connection, config: LoadConfig, payload: Payload) -> None:
    loop = _new_loop()
    try:
        while True:
            message = conn.recv()
            if message is None:
                return
            concurrency, requests = message
            try:
                samples = loop.run_until_complete(
                    run_level_async(config, payload, concurrency, requests)
                )
                conn.send(("ok", samples))
            except Exception as exc:
                conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        loop.close()


class _WorkerPool:
    def __init__(self, config: LoadConfig, payload: Payload) -> None:
        ctx = mp.get_context("spawn")
        self._conns: list[Connection] = []
        self._procs: list[Any] = []
        for _ in range(config.workers):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_worker_main, args=(child, config, payload), daemon=True)
            proc.start()
            child.close()
            self._conns.append(parent)
            self._procs.append(proc)

    def run(self, shares: Sequence[int], requests: Sequence[int | None]) -> list[WorkerSamples]:
        for conn, share, count in zip(self._conns, shares, requests, strict=True):
            conn.send((share, count))
        out = []
        for conn in self._conns:
            status, value = conn.recv()
            if status != "ok":
                raise RuntimeError(f"load generator worker failed: {value}")
            out.append(value)
        return out

    def close(self) -> None:
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.send(None)
        for proc in self._procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.terminate()


# -- progress ---------------------------------------------------------------------------------
class Progress:
    """A one-line progress bar on a stream (stderr); plain lines when it is not a terminal."""

    def __init__(self, stream: TextIO | None = sys.stderr, width: int = 28) -> None:
        self._stream = stream
        self._tty = bool(stream is not None and stream.isatty())
        self._width = width
        self._label = ""
        self._started = 0.0

    def begin(self, label: str) -> None:
        self._label, self._started = label, time.monotonic()
        if self._stream is not None and not self._tty:
            print(f"{label} ...", file=self._stream, flush=True)

    def update(self, fraction: float, count: int) -> None:
        if self._stream is None or not self._tty:
            return
        filled = int(fraction * self._width)
        bar = "#" * filled + "-" * (self._width - filled)
        elapsed = time.monotonic() - self._started
        self._stream.write(
            f"\r{self._label} [{bar}] {fraction * 100:5.1f}% {count} replies {elapsed:5.1f}s"
        )
        self._stream.flush()

    def end(self, summary: str) -> None:
        if self._stream is None:
            return
        if self._tty:
            self._stream.write("\r\033[K")
        print(f"{self._label}: {summary}", file=self._stream, flush=True)


# -- the run ----------------------------------------------------------------------------------
def run_load(
    config: LoadConfig,
    meta: ModelMeta | None = None,
    progress: Progress | None = None,
) -> list[LevelResult]:
    """Measure every concurrency level of ``config``; return one result per level."""
    meta = meta or fetch_model_meta(config.url, config.protocol, config.model, config.version)
    if config.version:
        meta = ModelMeta(meta.name, config.version, meta.max_batch_size, meta.inputs, meta.outputs)
    payload = build_payload(config, meta)
    progress = progress or Progress(None)
    results: list[LevelResult] = []
    pool = _WorkerPool(config, payload) if config.workers > 1 else None
    loop = None if pool else _new_loop()
    try:
        for concurrency in config.concurrency:
            label = (
                f"{config.model} {config.protocol}/{config.effective_encoding} "
                f"b={config.batch_size} c={concurrency}"
            )
            progress.begin(label)
            if pool is not None:
                shares = split_concurrency(concurrency, config.workers)
                counts = _split_requests(config.requests, shares)
                samples = pool.run(shares, counts)
            else:
                assert loop is not None
                samples = [
                    loop.run_until_complete(
                        run_level_async(
                            config, payload, concurrency, config.requests, progress.update
                        )
                    )
                ]
            result = aggregate(
                samples,
                model=config.model,
                protocol=config.protocol,
                encoding=config.effective_encoding,
                batch_size=config.batch_size,
                concurrency=concurrency,
            )
            progress.end(summarize(result))
            results.append(result)
    finally:
        if pool is not None:
            pool.close()
        if loop is not None:
            loop.close()
    return results


def _split_requests(requests: int | None, shares: Sequence[int]) -> list[int | None]:
    if requests is None:
        return [None] * len(shares)
    total = sum(shares)
    counts = [requests * s // total for s in shares]
    counts[0] += requests - sum(counts)
    return [c if s else 0 for c, s in zip(counts, shares, strict=True)]


def summarize(result: LevelResult) -> str:
    lat = result.latency_ms

    def ms(key: str) -> str:
        value = lat.get(key)
        return "-" if value is None else f"{value:.2f}"

    return (
        f"{result.infer_per_s:.1f} infer/s ({result.requests_per_s:.1f} req/s), "
        f"p50 {ms('p50')} ms, p95 {ms('p95')} ms, p99 {ms('p99')} ms, "
        f"{result.errors} errors"
    )
