#!/usr/bin/env python3
"""ONNX Runtime's intra-op spinning, on and off, on the embedded engine: one run, side by side.

    python bench/spinning.py        # writes bench/results/spinning-<date>/ and its section
                                    # of docs/PERFORMANCE.md

ORT's intra-op threads busy-wait for the next operator's work by default
(``session.intra_op.allow_spinning``). On a small machine they compete with the event loop
and with other instances for the cores. This measures what that costs or buys, for the
hot-path models (``add_relu``, ``conv8``) with 2 intra-op threads per instance, in one
instance (threads fit the cores) and in two (they do not), each with spinning on and off,
through perf_analyzer. What it found sets ``spinning_by_default`` in
``mlinfer.backends.embedded.onnx_session``; a model's ``allow_spinning`` parameter
overrides it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `bench` and `tests.support` are packages of the checkout

from bench.hotpath import (  # noqa: E402
    CNN_MODEL,
    SMALL_MODEL,
    Run,
    add_page_arguments,
    mlinfer,
    results_dir,
    save_results,
    write_models,
)
from bench.hotpath_report import (  # noqa: E402
    begin_marker,
    end_marker,
    find_row,
    rate_text,
    replace_block,
)

SECTION = "spinning"
INSTANCES = (1, 2)
THREADS = 2
SETTINGS = ("on", "off")


def server_name(instances: int, spinning: str) -> str:
    return f"{instances}x{THREADS} spinning {spinning}"


def layout(repository: Path, instances: int, spinning: str) -> Path:
    """A copy of the hot-path repository with ``instances`` instances per model and
    ``allow_spinning`` set: the same models and code, one setting apart."""
    copy = repository.parent / f"x{instances}-spinning-{spinning}"
    shutil.copytree(repository, copy)
    value = "true" if spinning == "on" else "false"
    for config in copy.glob("*/config.pbtxt"):
        text = config.read_text(encoding="utf-8").replace("count: 1 ", f"count: {instances} ")
        text += f'parameters {{ key: "allow_spinning" value: {{ string_value: "{value}" }} }}\n'
        config.write_text(text, encoding="utf-8")
    return copy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval-ms", type=int, default=2000, help="perf_analyzer window")
    parser.add_argument("--repeat", type=int, default=1, help="rounds over the servers per point")
    add_page_arguments(parser)
    args = parser.parse_args(argv)
    if args.render:
        doc = json.loads(args.render.read_text(encoding="utf-8"))
        results = str(args.render.resolve().relative_to(ROOT))
        replace_block(args.docs, SECTION, render(doc, results))
        return 0

    out_dir = results_dir("spinning")
    logs = out_dir / "logs"
    repository = out_dir / "repository" / "onnx"
    write_models(repository)
    models = [SMALL_MODEL, CNN_MODEL]
    run = Run(out_dir, args.interval_ms, args.repeat, ("http binary", "grpc"), (1, 8))
    started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    with ExitStack() as stack:
        servers = []
        for instances in INSTANCES:
            for spinning in SETTINGS:
                name = server_name(instances, spinning)
                print(f"starting {name}", flush=True)
                repo = layout(repository, instances, spinning)
                s = stack.enter_context(
                    mlinfer(repo, logs, name.replace(" ", "-"), models, baseline=None)
                )
                servers.append((name, [s.pid], s.http_url, s.grpc_url))
        for model in models:
            run.point(servers, model)
    doc = {
        "started": started,
        "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "repeat": args.repeat,
        "argv": ["python", "bench/spinning.py", *(sys.argv[1:] if argv is None else argv)],
        "rows": run.rows,
    }
    path = save_results(out_dir, doc)
    if not args.no_docs:
        replace_block(args.docs, SECTION, render(doc, str(path.relative_to(ROOT))))
        print(f"wrote {args.docs}")
    return 0


def render(doc: Mapping[str, Any], results_path: str) -> str:
    rows: Sequence[Mapping[str, Any]] = doc["rows"]
    cores = int(doc.get("cores") or 2)
    repeat = int(doc.get("repeat") or 1)
    out = [
        begin_marker(SECTION),
        "## ONNX Runtime's intra-op spinning, on and off (embedded engine)",
        "",
        f"Written by `{' '.join(doc['argv'])}` from one run, {doc['started']} to "
        f"{doc['finished']} (UTC); raw results: `{results_path}`. {cores} vCPUs; the "
        "hot-path models with `intra_op_thread_count` 2 and dynamic batching as above, in "
        "one instance or two per model, with `allow_spinning` true or false; four servers, "
        "each point measured on one after the other (perf_analyzer, batch-1 requests)."
        + (f" Each figure is the median of {repeat} rounds." if repeat > 1 else ""),
        "",
        "| model | instances x threads | protocol | c | spinning on | spinning off "
        "| off / on | default |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for model in dict.fromkeys(r["model"] for r in rows):
        for instances in INSTANCES:
            default = "on" if instances * THREADS <= cores else "off"
            for c in sorted({int(r["concurrency"]) for r in rows}):
                for protocol in dict.fromkeys(r["protocol"] for r in rows):
                    on, off = (
                        find_row(
                            rows,
                            server=server_name(instances, s),
                            model=model,
                            protocol=protocol,
                            concurrency=c,
                        )
                        for s in SETTINGS
                    )
                    gain = "-"
                    if on is not None and off is not None and on["infer_per_s"]:
                        gain = f"{off['infer_per_s'] / on['infer_per_s']:.2f}x"
                    out.append(
                        f"| {model} | {instances} x {THREADS} | {protocol} | {c} | "
                        f"{rate_text(on)} | {rate_text(off)} | {gain} | {default} |"
                    )
    out += [
        "",
        "`default`: what a model without `allow_spinning` gets on this machine "
        "(`spinning_by_default`: on while the instances' intra-op threads fit in the cores).",
        end_marker(SECTION),
    ]
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
