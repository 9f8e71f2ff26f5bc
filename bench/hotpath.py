#!/usr/bin/env python3
"""Small requests, side by side in one run: Triton direct, mlinfer embedded, mlinfer in front.

    python bench/hotpath.py                       # writes bench/results/hotpath-<date>/ and
                                                  # the hot-path section of docs/PERFORMANCE.md
    python bench/hotpath.py --baseline DIR        # also runs the mlinfer package found in DIR
                                                  # (a checkout's services/): before vs after

The configuration of issue 17's table: Add+Relu on [1,16] FP32 and Triton's ``simple``, one
instance, ``intra_op_thread_count`` 2, dynamic batching up to 32 with a 500 us delay, auth
and access log off; perf_analyzer 2.51, batch-1 requests, HTTP binary, HTTP JSON and gRPC at
c=1 and c=8. Triton is the tritonserver of nvidia-pytriton serving the same ONNX file through
its Python backend. Every figure of a table comes from this one run, one server at a time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shlex
import sys
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `bench` and `tests.support` are packages of the checkout

SMALL_MODEL = "add_relu"
FRONT_MODEL = "simple"
# (label, perf_analyzer protocol, extra arguments)
PROTOCOLS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("http binary", "http", ()),
    ("http json", "http", ("--input-tensor-format=json", "--output-tensor-format=json")),
    ("grpc", "grpc", ()),
)
CONCURRENCY = (1, 8)
CNN_MODEL = "conv8"
BENCH_CONFIG = """max_batch_size: 32
instance_group [ {{ count: 1 kind: KIND_CPU }} ]
dynamic_batching {{ max_queue_delay_microseconds: 500 }}
parameters {{ key: "intra_op_thread_count" value: {{ string_value: "2" }} }}
input [
{inputs}
]
output [
{outputs}
]
"""
Tensor = tuple[str, str, str]  # name, config data type, dims


def bench_config(name: str, inputs: Sequence[Tensor], outputs: Sequence[Tensor]) -> str:
    def rows(tensors: Sequence[Tensor]) -> str:
        return ",\n".join(
            f'  {{ name: "{n}" data_type: {t} dims: [ {d} ] }}' for n, t, d in tensors
        )

    head = f'name: "{name}"\nplatform: "onnxruntime_onnx"\n'
    return head + BENCH_CONFIG.format(inputs=rows(inputs), outputs=rows(outputs))


def write_models(repository: Path) -> None:
    """``add_relu`` (FP32: Relu(INPUT0 + INPUT1)), ``simple`` (INT32 add and sub) and
    ``conv8`` (eight 3x3 convolutions on FP32 3x64x64, :func:`bench.vision.conv8`)."""
    from onnx import TensorProto

    from bench.vision import conv8
    from mlinfer.samples.graph import GraphBuilder
    from mlinfer.samples.models import SampleModel
    from mlinfer.samples.writer import write_model

    add_relu = GraphBuilder(SMALL_MODEL)
    a = add_relu.input("INPUT0", TensorProto.FLOAT, ["batch", 16])
    b = add_relu.input("INPUT1", TensorProto.FLOAT, ["batch", 16])
    add_relu.op("Relu", [add_relu.op("Add", [a, b])], "OUTPUT0")
    add_relu.output("OUTPUT0", TensorProto.FLOAT, ["batch", 16])
    simple = GraphBuilder(FRONT_MODEL)
    a = simple.input("INPUT0", TensorProto.INT32, ["batch", 16])
    b = simple.input("INPUT1", TensorProto.INT32, ["batch", 16])
    simple.op("Add", [a, b], "OUTPUT0")
    simple.op("Sub", [a, b], "OUTPUT1")
    for out in ("OUTPUT0", "OUTPUT1"):
        simple.output(out, TensorProto.INT32, ["batch", 16])

    def pair(dtype: str, names: Sequence[str]) -> list[Tensor]:
        return [(n, dtype, "16") for n in names]

    models = [
        (add_relu.model(), pair("TYPE_FP32", ["INPUT0", "INPUT1"]), pair("TYPE_FP32", ["OUTPUT0"])),
        (
            simple.model(),
            pair("TYPE_INT32", ["INPUT0", "INPUT1"]),
            pair("TYPE_INT32", ["OUTPUT0", "OUTPUT1"]),
        ),
        (
            conv8().onnx_model,
            [("image", "TYPE_FP32", "3, 64, 64")],
            [("probabilities", "TYPE_FP32", "10")],
        ),
    ]
    for graph, inputs, outputs in models:
        name = graph.graph.name
        write_model(SampleModel(name, graph, bench_config(name, inputs, outputs), {}), repository)


class Run:
    def __init__(
        self,
        out_dir: Path,
        interval_ms: int,
        repeat: int = 1,
        protocols: Sequence[str] = (),
        concurrency: Sequence[int] = CONCURRENCY,
    ) -> None:
        self.out_dir = out_dir
        self.interval_ms = interval_ms
        self.repeat = repeat
        self.protocols = [p for p in PROTOCOLS if not protocols or p[0] in protocols]
        self.concurrency = list(concurrency)
        self.rows: list[dict[str, Any]] = []

    def point(
        self,
        servers: Sequence[tuple[str, Sequence[int], str, str]],
        model: str,
        concurrency: Sequence[int] = (),
    ) -> None:
        """Each protocol and concurrency on every server in turn: the figures compared in a
        table row are minutes apart at most, whatever the machine's other load does."""
        for c in concurrency or self.concurrency:
            for label, protocol, extra in self.protocols:
                for _ in range(self.repeat):  # the report takes each server's median
                    for server, pids, http, grpc in servers:
                        self._one(server, pids, model, http, grpc, label, protocol, extra, c)

    def _one(
        self,
        server: str,
        pids: Sequence[int],
        model: str,
        http: str,
        grpc: str,
        label: str,
        protocol: str,
        extra: Sequence[str],
        c: int,
    ) -> None:
        from bench.measure import measuring, new_row
        from tests.support.triton.perf_analyzer import PerfAnalyzerError, run_perf_analyzer

        row = new_row(server=server, model=model, protocol=label, concurrency=c)
        with measuring(row, pids, None):
            try:
                result = self._run(run_perf_analyzer, model, http, grpc, protocol, c, extra)
            except PerfAnalyzerError as exc:
                if "stable" not in str(exc):
                    raise
                result = self._run(
                    run_perf_analyzer, model, http, grpc, protocol, c, extra, loose=True
                )
                row["note"] = "unstable within 10%: 3 windows, no stability check"
            perf = result.rows[0]
            row.update(
                infer_per_s=perf.throughput,
                p50_ms=perf.p50_us / 1000 if perf.p50_us else None,
                p99_ms=perf.p99_us / 1000 if perf.p99_us else None,
                command=_display(result.command),
            )
        self.rows.append(row)
        print(_line(row), flush=True)

    def _run(
        self,
        run: Any,
        model: str,
        http: str,
        grpc: str,
        protocol: str,
        c: int,
        extra: Sequence[str],
        loose: bool = False,
    ) -> Any:
        return run(
            model,
            grpc if protocol == "grpc" else http,
            protocol,
            c,
            batch_size=1,
            measurement_interval_ms=self.interval_ms,
            measurement_mode="time_windows",
            stability_percentage=1000.0 if loose else 10.0,  # loose: any 3 windows
            max_trials=4 if loose else 8,
            extra_args=list(extra),
            timeout_s=300.0,
        )


def _display(command: Sequence[str]) -> str:
    words = [Path(command[0]).name, *command[1:]]
    if "-f" in words:  # the temporary CSV path says nothing
        index = words.index("-f")
        del words[index : index + 2]
    return shlex.join(words)


def _line(row: dict[str, Any]) -> str:
    what = f"  {row['server']:<22} {row['model']:<9} {row['protocol']:<12} c={row['concurrency']}:"
    if row["error"]:
        return f"{what} FAILED {row['error'][:200]}"
    rate, p50, bg = row["infer_per_s"], row["p50_ms"], row["background_cpu_pct"]
    return f"{what} {rate:8.1f}/s p50 {p50:.2f} ms (bg CPU {bg}%)"


@contextmanager
def triton_server(repository: Path, logs: Path, models: Sequence[str]) -> Iterator[Any]:
    from tests.support.triton.python_backend import write_python_backend_repository
    from tests.support.triton.server_process import TritonServerProcess

    pyrepo = repository.parent / "triton"
    write_python_backend_repository(repository, pyrepo, list(models))
    triton = TritonServerProcess(
        pyrepo,
        model_control_mode="explicit",
        load_models=list(models),
        log_path=logs / "triton.log",
        startup_timeout_s=300,
    )
    triton.start()
    try:
        triton.wait_ready(models=list(models))
        yield triton
    finally:
        triton.stop()


def mlinfer(
    repository: Path,
    logs: Path,
    name: str,
    models: Sequence[str],
    *,
    baseline: Path | None,
    args: Sequence[str] = (),
) -> Any:
    from bench.servers import MlinferProcess

    env = {"MLINFER_ACCESS_LOG": "false"}
    if baseline is not None:
        env["PYTHONPATH"] = str(baseline)
    return MlinferProcess(repository, list(models), logs / f"{name}.log", list(args), env=env)


def ceiling(repository: Path, model: str, seconds: float) -> dict[str, Any]:
    """The raw ONNX Runtime ceiling of ``model`` (same sessions and threads as the servers'),
    in a process of its own while no server is being measured: its best batch size."""
    import subprocess

    batches = "1,2,4,8,16,32"
    command = [sys.executable, "-m", "bench.ceiling", str(repository / model)]
    command += ["--batches", batches, "--seconds", str(seconds)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout)
    best = result["best"]
    print(f"  raw ORT ceiling {model}: {best['infer_per_s']:.1f}/s at batch {best['batch_size']}")
    return {"infer_per_s": best["infer_per_s"], "batch_size": best["batch_size"]}


def add_page_arguments(parser: argparse.ArgumentParser) -> None:
    """--render, --docs and --no-docs: where a bench script's section of the page goes."""
    parser.add_argument("--render", type=Path, metavar="RESULTS_JSON", help="only re-render")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs" / "PERFORMANCE.md")
    parser.add_argument("--no-docs", action="store_true")


def results_dir(kind: str) -> Path:
    """``bench/results/<kind>-<UTC time>/``, with its ``logs/`` folder."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d_%H%M%S")
    out_dir = ROOT / "bench" / "results" / f"{kind}-{stamp}"
    (out_dir / "logs").mkdir(parents=True)
    return out_dir


def save_results(out_dir: Path, doc: dict[str, Any]) -> Path:
    path = out_dir / "results.json"
    path.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    print(f"results: {path}")
    return path


def main(argv: list[str] | None = None) -> int:
    from bench.hotpath_report import write_section

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="services/ folder of the code to compare")
    parser.add_argument("--baseline-label", default="before", help="its name in the tables")
    parser.add_argument("--baseline-code", default="", help="what that code is, for the page")
    parser.add_argument("--interval-ms", type=int, default=2000, help="perf_analyzer window")
    parser.add_argument("--workers", type=int, default=2, help="front workers also measured")
    parser.add_argument("--repeat", type=int, default=1, help="rounds over the servers per point")
    parser.add_argument("--protocols", default="", help="subset, e.g. 'http binary,grpc'")
    parser.add_argument("--concurrency", default="1,8", help="comma-separated levels")
    parser.add_argument("--only", choices=["all", "embedded", "front"], default="all")
    parser.add_argument(
        "--cnn",
        action=argparse.BooleanOptionalAction,
        default=True,
        help=f"also the CNN ({CNN_MODEL}) at c=8 against Triton and the raw ORT ceiling",
    )
    parser.add_argument("--ceiling-seconds", type=float, default=3.0, help="per batch size")
    parser.add_argument(
        "--passthrough",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="fronts forward REST bodies to Triton's HTTP endpoint (--triton-http)",
    )
    parser.add_argument(
        "--section",
        choices=["hotpath", "hotpath-repeated", "hotpath-passthrough", "hotpath-grpc-forward"],
        default="hotpath",
        help="which section of the page the run writes",
    )
    add_page_arguments(parser)
    args = parser.parse_args(argv)
    if args.render:
        doc = json.loads(args.render.read_text(encoding="utf-8"))
        doc.setdefault("section", args.section)
        write_section(args.docs, doc, str(args.render.resolve().relative_to(ROOT)))
        print(f"wrote {args.docs}")
        return 0

    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d_%H%M%S")
    out_dir = ROOT / "bench" / "results" / f"hotpath-{stamp}"
    logs = out_dir / "logs"
    repository = out_dir / "repository" / "onnx"
    logs.mkdir(parents=True)
    write_models(repository)
    protocols = [p.strip() for p in args.protocols.split(",") if p.strip()]
    levels = [int(c) for c in args.concurrency.split(",")]
    run = Run(out_dir, args.interval_ms, args.repeat, protocols, levels)
    started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    models = [SMALL_MODEL, FRONT_MODEL, CNN_MODEL]
    embedded_models = [SMALL_MODEL, CNN_MODEL] if args.cnn else [SMALL_MODEL]
    ceilings: dict[str, list[dict[str, Any]]] = {}
    versions = [("after", None)]
    if args.baseline is not None:
        versions.insert(0, (args.baseline_label, args.baseline.resolve()))
    with triton_server(repository, logs, models) as triton, ExitStack() as stack:
        front_args = ["--triton", triton.grpc_url]
        # Only this checkout's fronts: a baseline's code may predate the option.
        passthrough = ["--triton-http", triton.http_url] if args.passthrough else []
        embedded = [("triton", [triton.pid], triton.http_url, triton.grpc_url)]
        fronts = [("triton", [triton.pid], triton.http_url, triton.grpc_url)]
        for label, code in versions:
            print(f"starting mlinfer {label}", flush=True)
            s = stack.enter_context(
                mlinfer(repository, logs, f"embedded-{label}", embedded_models, baseline=code)
            )
            embedded.append((f"mlinfer {label}", [s.pid], s.http_url, s.grpc_url))
            f = stack.enter_context(
                mlinfer(
                    repository,
                    logs,
                    f"front-{label}",
                    [],
                    baseline=code,
                    args=front_args if code is not None else [*front_args, *passthrough],
                )
            )
            fronts.append((f"front {label}", [f.pid, triton.pid], f.http_url, f.grpc_url))
        if args.workers > 1:
            workers = [*front_args, *passthrough, "--workers", str(args.workers)]
            w = stack.enter_context(
                mlinfer(repository, logs, "front-workers", [], baseline=None, args=workers)
            )
            name = f"front after x{args.workers}"
            fronts.append((name, [w.pid, triton.pid], w.http_url, w.grpc_url))
        if args.only in ("all", "embedded"):
            print("embedded engine vs Triton", flush=True)
            run.point(embedded, SMALL_MODEL)
            if args.cnn:
                print(f"embedded engine vs Triton and the raw ORT ceiling: {CNN_MODEL}")
                ceilings[CNN_MODEL] = [ceiling(repository, CNN_MODEL, args.ceiling_seconds)]
                run.point(embedded, CNN_MODEL, concurrency=[8])
                ceilings[CNN_MODEL].append(ceiling(repository, CNN_MODEL, args.ceiling_seconds))
        if args.only in ("all", "front"):
            print("in front of Triton vs Triton direct", flush=True)
            run.point(fronts, FRONT_MODEL)
    doc = {
        "started": started,
        "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "baseline": args.baseline_label if args.baseline else None,
        "baseline_code": args.baseline_code,
        "workers": args.workers,
        "passthrough": args.passthrough,
        "repeat": args.repeat,
        "section": args.section,
        "ceilings": ceilings,
        "argv": ["python", "bench/hotpath.py", *(sys.argv[1:] if argv is None else argv)],
        "rows": run.rows,
    }
    path = save_results(out_dir, doc)
    if not args.no_docs:
        write_section(args.docs, doc, str(path.relative_to(ROOT)))
        print(f"wrote {args.docs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
