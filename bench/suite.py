"""The benchmark suite behind ``bench/run.py``: every measurement of docs/PERFORMANCE.md.

Sections, in order (one server under test at a time, nothing else of ours running):

* ``build``     the benchmark repository (ResNet-50, BERT-base, YOLOv8n, custom CNN, simple);
* ``ceiling``   raw ONNX Runtime throughput per model, in a child process;
* ``embedded``  ``mlinfer serve`` on the embedded engine: perf_analyzer and ``mlinfer bench``
                at c=8 and c=32 (HTTP binary, gRPC, HTTP JSON for the light model), dynamic
                batching on vs off at c=32, and the small-request rate of ``simple``;
* ``memory``    resident memory of ``mlinfer serve`` (sample models; one vs four instances);
* ``triton``    Triton direct vs ``mlinfer serve --triton`` in front of it (simple, CNN).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.host import code_version
from bench.measure import (
    PerfWindow,
    Quiet,
    ceiling_row,
    loadgen_row,
    measuring,
    new_row,
    perf_analyzer_row,
    write_input_data,
)
from bench.models import (
    BENCH_MODELS,
    INFO_FILENAME,
    NOBATCH_SUFFIX,
    TINY_MODEL,
    BenchModel,
    BuiltModel,
    bench_model,
    write_bench_repository,
)
from bench.servers import MlinferProcess, settled_rss_bytes

SECTIONS = ("build", "ceiling", "embedded", "memory", "triton")
LIGHT_MODELS = frozenset({TINY_MODEL, "custom_cnn"})


@dataclass(frozen=True)
class LoadWindow:
    duration_s: float
    warmup_s: float


@dataclass(frozen=True)
class Plan:
    """How long each kind of measurement runs."""

    quick: bool
    light_perf: PerfWindow
    heavy_perf: PerfWindow
    light_load: LoadWindow
    heavy_load: LoadWindow
    light_ceiling_s: float
    heavy_ceiling_s: float
    check_ceiling_s: float
    """Adjacent ceiling checks (best batch only) right before and after each model's block."""
    concurrency: tuple[int, ...] = (8, 32)
    front_concurrency: tuple[int, ...] = (1, 8)
    quiet: Quiet | None = field(default_factory=Quiet)
    attempts: int = 3
    """A measurement that failed or ran beside more than ``max_background_percent`` of other
    load is repeated (up to this many times in all); the quietest good attempt is kept."""
    max_background_percent: float = 15.0
    retry_budget_s: float = 180.0
    """Total time repeats may add to a run; past it, the first attempt stands."""

    def perf(self, model: str) -> PerfWindow:
        return self.light_perf if _base(model) in LIGHT_MODELS else self.heavy_perf

    def load(self, model: str) -> LoadWindow:
        return self.light_load if _base(model) in LIGHT_MODELS else self.heavy_load


def plan_for(quick: bool) -> Plan:
    if quick:
        return Plan(
            quick=True,
            light_perf=PerfWindow(1000, 50.0, 4),
            heavy_perf=PerfWindow(1500, 50.0, 4, min_requests=16),
            light_load=LoadWindow(1.5, 0.5),
            heavy_load=LoadWindow(2.0, 1.0),
            light_ceiling_s=0.5,
            heavy_ceiling_s=1.0,
            check_ceiling_s=0.5,
            quiet=Quiet(30.0, 2.0),
            attempts=2,
            max_background_percent=30.0,
        )
    return Plan(
        quick=False,
        light_perf=PerfWindow(3000, 20.0, 6),
        heavy_perf=PerfWindow(5000, 25.0, 5, min_requests=40),
        light_load=LoadWindow(6.0, 2.0),
        heavy_load=LoadWindow(12.0, 4.0),
        light_ceiling_s=3.0,
        heavy_ceiling_s=6.0,
        check_ceiling_s=8.0,
    )


def _base(model: str) -> str:
    return model.removesuffix(NOBATCH_SUFFIX)


def triton_front_available() -> bool:
    """Whether mlinfer has its Triton backend (``mlinfer serve --triton``)."""
    try:
        return importlib.util.find_spec("mlinfer.backends.triton.backend") is not None
    except ModuleNotFoundError:
        return False


class Suite:
    def __init__(
        self,
        root: Path,
        out_dir: Path,
        plan: Plan,
        log: Callable[[str], None] = print,
    ) -> None:
        self.root = root
        self.onnx_repo = root / "onnx"
        self.out_dir = out_dir
        self.logs = out_dir / "logs"
        self.plan = plan
        self.log = log
        self.rows: list[dict[str, Any]] = []
        self.built: list[BuiltModel] = []
        self.ceilings: dict[str, dict[str, Any]] = {}
        self.notes: list[str] = []
        self.servers: dict[str, str] = {}  # label -> command line
        self.started = dt.datetime.now(dt.timezone.utc)
        self._retry_spent_s = 0.0
        self.code_at_start = code_version(self.root.resolve().parent.parent)

    # -- bookkeeping ---------------------------------------------------------------------
    def _row(self, **labels: Any) -> dict[str, Any]:
        row = new_row(**labels)
        self.rows.append(row)
        return row

    def _done(self, row: dict[str, Any]) -> None:
        what = " ".join(
            str(row[k])
            for k in ("section", "server", "tool", "model", "protocol", "encoding")
            if row.get(k)
        )
        conc = f" c={row['concurrency']}" if row.get("concurrency") else ""
        if row.get("error"):
            self.log(f"  FAILED {what}{conc}: {row['error'][:300]}")
        elif row.get("rss_mb") is not None:
            self.log(f"  {what}: RSS {row['rss_mb']:.1f} MB")
        else:
            p50 = row.get("p50_ms")
            self.log(
                f"  {what}{conc}: {row.get('infer_per_s') or 0:.1f} infer/s"
                + (f", p50 {p50:.2f} ms" if p50 is not None else "")
                + f" (background CPU {row.get('background_cpu_pct')}%)"
            )

    def document(self) -> dict[str, Any]:
        from mlinfer.bench.machine import machine_info

        return {
            "date": self.started.isoformat(timespec="seconds"),
            "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "quick": self.plan.quick,
            "repository_root": str(self.root.resolve().parent.parent),
            "code": {
                "start": self.code_at_start,
                "end": code_version(self.root.resolve().parent.parent),
            },
            "machine": machine_info(),
            "models": [
                {
                    "name": b.model.name,
                    "title": b.model.title,
                    "description": (
                        f"QUICK VARIANT (shrunken) of: {b.model.description}"
                        if self.plan.quick
                        else b.model.description
                    ),
                    "gmacs": b.macs / 1e9,
                    "params_m": b.params / 1e6,
                    "onnx_mb": b.bytes / 1e6,
                    "max_batch_size": b.model.max_batch_size,
                    "preferred_batch_sizes": list(b.model.preferred_batch_sizes),
                    "max_queue_delay_us": b.model.max_queue_delay_us,
                    "instances": b.model.instances,
                    "intra_op_threads": b.model.intra_op_threads,
                    "target": None
                    if b.model.target is None
                    else {
                        "title": b.model.target.title,
                        "requests_per_s": b.model.target.requests_per_s,
                        "batch": b.model.target.batch,
                        "latency_ms": b.model.target.latency_ms,
                    },
                }
                for b in self.built
            ],
            "ceilings": self.ceilings,
            "servers": self.servers,
            "plan": {
                "light_perf_window_ms": self.plan.light_perf.interval_ms,
                "heavy_perf_window_ms": self.plan.heavy_perf.interval_ms,
                "light_load_s": self.plan.light_load.duration_s,
                "heavy_load_s": self.plan.heavy_load.duration_s,
            },
            "notes": self.notes,
            "rows": self.rows,
        }

    def save(self) -> tuple[Path, Path]:
        from mlinfer.bench.results import write_csv

        self.out_dir.mkdir(parents=True, exist_ok=True)
        json_path = self.out_dir / "results.json"
        json_path.write_text(json.dumps(self.document(), indent=2) + "\n", encoding="utf-8")
        csv_path = self.out_dir / "results.csv"
        write_csv(csv_path, self.rows)
        return json_path, csv_path

    # -- sections ------------------------------------------------------------------------
    def run(self, sections: Sequence[str] = SECTIONS) -> None:
        for section in SECTIONS:
            if section not in sections:
                continue
            self.log(f"== {section}")
            t0 = time.monotonic()
            try:
                getattr(self, f"section_{section}")()
            except Exception as exc:  # a whole section failing still leaves a report
                self.notes.append(f"section {section} failed: {type(exc).__name__}: {exc}")
                self.log(f"  section {section} failed: {exc}")
            self.log(f"   ({time.monotonic() - t0:.0f} s)")
            self.save()

    def section_build(self) -> None:
        stamp = self.onnx_repo / ".built.json"
        wanted = {"quick": self.plan.quick, "models": [m.name for m in BENCH_MODELS]}
        if stamp.exists() and json.loads(stamp.read_text(encoding="utf-8")) == wanted:
            self.built = [self._describe_existing(m) for m in BENCH_MODELS]
            self.log("  benchmark repository up to date (delete it to rebuild)")
            return
        if self.onnx_repo.exists():
            shutil.rmtree(self.onnx_repo)
        self.built = write_bench_repository(
            self.onnx_repo, quick=self.plan.quick, progress=lambda m: self.log(f"  {m}")
        )
        stamp.write_text(json.dumps(wanted), encoding="utf-8")

    def _describe_existing(self, model: BenchModel) -> BuiltModel:
        info_path = self.onnx_repo / model.name / INFO_FILENAME
        path = self.onnx_repo / model.name / "1" / "model.onnx"
        if info_path.exists():
            info = json.loads(info_path.read_text(encoding="utf-8"))
            return BuiltModel(model, path, info["macs"], info["params"], path.stat().st_size)
        return BuiltModel(model, path, 0, 0, path.stat().st_size)

    def section_ceiling(self) -> None:
        for model in BENCH_MODELS:
            heavy = _base(model.name) not in LIGHT_MODELS
            batches = [b for b in (1, 2, 4, 8, 16, 32) if b <= model.max_batch_size]
            seconds = self.plan.heavy_ceiling_s if heavy else self.plan.light_ceiling_s
            labels = {
                "section": "ceiling",
                "model": model.name,
                "server": "onnxruntime",
                "tool": "session.run",
            }

            def fill(
                row: dict[str, Any],
                model: BenchModel = model,
                seconds: float = seconds,
                batches: list[int] = batches,
            ) -> None:
                self.ceilings[model.name] = ceiling_row(
                    row, self.onnx_repo / model.name, batches, seconds
                )

            self._measured(labels, [], fill)

    def _input_data(self, server: MlinferProcess, model: str) -> Path | None:
        """Our data for integer inputs (perf_analyzer's random ints overflow vocabularies)."""
        from mlinfer.bench.inputs import fetch_model_meta, make_inputs

        meta = fetch_model_meta(server.http_url, "http", model)
        if all(t.datatype.startswith("FP") for t in meta.inputs):
            return None
        return write_input_data(lambda: make_inputs(meta, 1), self.out_dir / "inputs")

    def _measured(
        self, labels: dict[str, Any], pids: Sequence[int], fill: Callable[[dict[str, Any]], None]
    ) -> dict[str, Any]:
        """Run ``fill(row)`` under ``measuring``; repeat when it failed or the machine was busy."""
        attempts: list[dict[str, Any]] = []
        for _ in range(max(self.plan.attempts, 1)):
            t0 = time.monotonic()
            row = new_row(**labels)
            with measuring(row, pids, self.plan.quiet):
                fill(row)
            if attempts:
                self._retry_spent_s += time.monotonic() - t0
            attempts.append(row)
            if not row["error"] and row["background_cpu_pct"] <= self.plan.max_background_percent:
                break
            if self._retry_spent_s >= self.plan.retry_budget_s:
                break
            self.log(
                f"  (repeating: {'failed' if row['error'] else 'busy machine'}, "
                f"background CPU {row['background_cpu_pct']}%)"
            )
        best = min(attempts, key=lambda r: (bool(r["error"]), r["background_cpu_pct"]))
        if len(attempts) > 1:
            kept = (
                f"quietest good of {len(attempts)} attempts"
                if not best["error"]
                else (f"all {len(attempts)} attempts failed")
            )
            best["note"] = "; ".join(n for n in (best.get("note"), kept) if n)
        self.rows.append(best)
        self._done(best)
        return best

    def _perf(
        self,
        server_label: str,
        section: str,
        pid: Sequence[int],
        model: str,
        url: str,
        protocol: str,
        concurrency: int,
        input_data: Path | None,
        batching: str = "",
    ) -> dict[str, Any]:
        labels = {
            "section": section,
            "model": model,
            "server": server_label,
            "tool": "perf_analyzer",
            "protocol": protocol,
            "encoding": "protobuf" if protocol == "grpc" else "binary",
            "concurrency": concurrency,
            "batch_size": 1,
            "batching": batching,
        }

        def fill(row: dict[str, Any]) -> None:
            perf_analyzer_row(
                row,
                model=model,
                url=url,
                protocol=protocol,
                concurrency=concurrency,
                window=self.plan.perf(model),
                input_data=input_data,
            )

        return self._measured(labels, pid, fill)

    def _load(
        self,
        server_label: str,
        section: str,
        pid: Sequence[int],
        model: str,
        url: str,
        protocol: str,
        encoding: str,
        concurrency: int,
        batching: str = "",
    ) -> dict[str, Any]:
        labels = {
            "section": section,
            "model": model,
            "server": server_label,
            "tool": "mlinfer bench",
            "protocol": protocol,
            "encoding": "protobuf" if protocol == "grpc" else encoding,
            "concurrency": concurrency,
            "batch_size": 1,
            "batching": batching,
        }
        window = self.plan.load(model)

        def fill(row: dict[str, Any]) -> None:
            loadgen_row(
                row,
                model=model,
                url=url,
                protocol=protocol,
                encoding=encoding,
                concurrency=concurrency,
                duration_s=window.duration_s,
                warmup_s=window.warmup_s,
            )

        return self._measured(labels, pid, fill)

    def section_embedded(self) -> None:
        models = [m.name for m in BENCH_MODELS]
        names = [*models, *(f"{m}{NOBATCH_SUFFIX}" for m in models), TINY_MODEL]
        server = MlinferProcess(self.onnx_repo, names, self.logs / "mlinfer-embedded.log")
        self.servers["mlinfer (embedded engine)"] = server.display_command
        with server:
            pid = [server.pid]
            row = self._row(
                section="memory",
                model="+".join(models) + " (+ no-batching twins) + simple",
                server="mlinfer",
                tool="psutil",
            )
            with measuring(row, pid, None):
                row["rss_mb"] = settled_rss_bytes(server.pid) / 1e6
            self._done(row)
            for name in models:
                data = self._input_data(server, name)
                self._ceiling_check(name, "before")
                for c in self.plan.concurrency:
                    for protocol in ("http", "grpc"):
                        url = server.grpc_url if protocol == "grpc" else server.http_url
                        self._perf("mlinfer", "embedded", pid, name, url, protocol, c, data, "on")
                    encodings = [("http", "binary"), ("grpc", "binary")]
                    if name in LIGHT_MODELS:
                        encodings.append(("http", "json"))
                    for protocol, encoding in encodings:
                        url = server.grpc_url if protocol == "grpc" else server.http_url
                        self._load(
                            "mlinfer", "embedded", pid, name, url, protocol, encoding, c, "on"
                        )
                # Dynamic batching off, at the highest concurrency.
                c = max(self.plan.concurrency)
                twin = f"{name}{NOBATCH_SUFFIX}"
                self._perf(
                    "mlinfer", "batching", pid, twin, server.http_url, "http", c, data, "off"
                )
                self._load(
                    "mlinfer", "batching", pid, twin, server.http_url, "http", "binary", c, "off"
                )
                self._ceiling_check(name, "after")

    def _ceiling_check(self, model: str, when: str) -> None:
        """Raw ORT at the sweep's best batch, next to the server measurements it is compared
        with: this VM's speed drifts over minutes, so ratios use these adjacent figures."""
        sweep = self.ceilings.get(model)
        batch = int(sweep["best"]["batch_size"]) if sweep else bench_model(model).max_batch_size
        labels = {
            "section": "ceiling-check",
            "model": model,
            "server": "onnxruntime",
            "tool": "session.run",
            "batching": when,
        }

        def fill(row: dict[str, Any]) -> None:
            ceiling_row(row, self.onnx_repo / model, [batch], self.plan.check_ceiling_s)

        self._measured(labels, [], fill)

    def _small_requests(self) -> None:
        """Small-request rate of the embedded engine on ``simple`` (compared with Triton's,
        measured just before)."""
        server = MlinferProcess(self.onnx_repo, [TINY_MODEL], self.logs / "mlinfer-small.log")
        with server:
            pid = [server.pid]
            for c in self.plan.front_concurrency:
                for protocol in ("http", "grpc"):
                    url = server.grpc_url if protocol == "grpc" else server.http_url
                    self._perf("mlinfer", "small", pid, TINY_MODEL, url, protocol, c, None)
                for protocol, encoding in (
                    ("http", "binary"),
                    ("grpc", "binary"),
                    ("http", "json"),
                ):
                    url = server.grpc_url if protocol == "grpc" else server.http_url
                    self._load("mlinfer", "small", pid, TINY_MODEL, url, protocol, encoding, c)

    def section_memory(self) -> None:
        from mlinfer.samples.models import SAMPLE_BUILDERS, image_cnn
        from mlinfer.samples.writer import write_model, write_repository

        samples = self.root / "samples"
        if not samples.exists():
            write_repository(samples, SAMPLE_BUILDERS)
        server = MlinferProcess(samples, ["*"], self.logs / "mlinfer-samples.log")
        self.servers["mlinfer (all sample models)"] = server.display_command
        row = self._row(
            section="memory", model="all sample models", server="mlinfer", tool="psutil"
        )
        with measuring(row, [], None), server:
            row["rss_mb"] = settled_rss_bytes(server.pid) / 1e6
        self._done(row)
        cnn = image_cnn()
        for count in (1, 4):
            repo = self.root / "memory" / f"image_cnn_x{count}"
            if not repo.exists():
                write_model(cnn, repo)
                config = repo / "image_cnn" / "config.pbtxt"
                text = config.read_text(encoding="utf-8")
                config.write_text(
                    text.replace("count: 2 kind: KIND_CPU", f"count: {count} kind: KIND_CPU"),
                    encoding="utf-8",
                )
            self._instances_rss(repo, "image_cnn", count, f"mlinfer-cnn-x{count}.log")
        # The same for a model whose weights are large: each instance is its own session.
        for count in (1, 2):
            self._resnet_instances(count)

    def _resnet_instances(self, count: int) -> None:
        source = self.onnx_repo / "resnet50"
        repo = self.root / "memory" / f"resnet50_x{count}"
        target = repo / "resnet50"
        if not (target / "1" / "model.onnx").exists():
            (target / "1").mkdir(parents=True, exist_ok=True)
            (target / "1" / "model.onnx").symlink_to((source / "1" / "model.onnx").resolve())
        text = (source / "config.pbtxt").read_text(encoding="utf-8")
        (target / "config.pbtxt").write_text(
            text.replace("count: 2 kind: KIND_CPU", f"count: {count} kind: KIND_CPU"),
            encoding="utf-8",
        )
        self._instances_rss(repo, "resnet50", count, f"mlinfer-resnet-x{count}.log")

    def _instances_rss(self, repo: Path, model: str, count: int, log_name: str) -> None:
        """Resident memory of ``mlinfer serve`` with ``model`` loaded at ``count`` instances."""
        server = MlinferProcess(repo, [model], self.logs / log_name)
        row = self._row(
            section="memory",
            model=f"{model} x{count} instances",
            server="mlinfer",
            tool="psutil",
            note=f"{count} instance(s)",
        )
        with measuring(row, [], None), server:
            row["rss_mb"] = settled_rss_bytes(server.pid) / 1e6
        self._done(row)

    def section_triton(self) -> None:
        """Triton direct, mlinfer in front of it, then mlinfer embedded on the tiny model."""
        try:
            self._triton_comparison()
        finally:
            self._small_requests()

    def _triton_comparison(self) -> None:
        from tests.support.triton.python_backend import write_python_backend_repository
        from tests.support.triton.server_process import TritonNotFoundError, TritonServerProcess

        models = [TINY_MODEL, "custom_cnn"]
        pyrepo = self.root / "triton"
        if pyrepo.exists():
            shutil.rmtree(pyrepo)
        write_python_backend_repository(self.onnx_repo, pyrepo, models)
        try:
            triton = TritonServerProcess(
                pyrepo,
                model_control_mode="explicit",
                load_models=models,
                log_path=self.logs / "triton.log",
                startup_timeout_s=300,
            )
            triton.start()
        except TritonNotFoundError as exc:
            self.notes.append(f"Triton comparison skipped: {exc}")
            self.log(f"  skipped: {exc}")
            return
        try:
            triton.wait_ready(models=models)
            self.servers["Triton 2.51 (python backend)"] = " ".join(
                ["tritonserver", *triton.command(Path("<backends>"))[1:]]
            ).replace(str(Path.home()), "~")
            assert triton.pid is not None
            pid = [triton.pid]
            row = self._row(
                section="memory",
                model="+".join(models),
                server="triton",
                tool="psutil",
                note="tritonserver + its Python backend stub processes",
            )
            with measuring(row, [], None):
                row["rss_mb"] = settled_rss_bytes(triton.pid) / 1e6
            self._done(row)
            self._front_matrix("triton", pid, triton.http_url, triton.grpc_url, models)
            if not triton_front_available():
                message = (
                    "mlinfer in front of Triton skipped: mlinfer.backends.triton is not "
                    "available in this checkout"
                )
                self.notes.append(message)
                self.log(f"  {message}")
                return
            front = MlinferProcess(
                pyrepo,
                [],
                self.logs / "mlinfer-front.log",
                extra_args=["--triton", triton.grpc_url],
            )
            self.servers["mlinfer in front of Triton"] = front.display_command
            with front:
                from bench.servers import wait_http_ready

                wait_http_ready(
                    f"http://{front.http_url}", models, front.proc, 120, "mlinfer --triton"
                )
                self._front_matrix(
                    "mlinfer->triton", [front.pid, *pid], front.http_url, front.grpc_url, models
                )
        finally:
            triton.stop()

    def _front_matrix(
        self, label: str, pid: Sequence[int], http: str, grpc: str, models: Sequence[str]
    ) -> None:
        for model in models:
            for c in self.plan.front_concurrency:
                for protocol in ("http", "grpc"):
                    url = grpc if protocol == "grpc" else http
                    self._perf(label, "triton", pid, model, url, protocol, c, None)


def bench_model_names() -> list[str]:
    return [m.name for m in BENCH_MODELS]


__all__ = ["SECTIONS", "Plan", "Suite", "bench_model", "bench_model_names", "plan_for"]
