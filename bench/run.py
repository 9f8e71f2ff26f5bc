#!/usr/bin/env python3
"""Regenerate every benchmark number and docs/PERFORMANCE.md in one command.

    python bench/run.py            # full run (~25 min on 2 CPUs)
    python bench/run.py --quick    # shrunken models, short windows (a smoke test, ~3 min)

Builds the benchmark models into bench/repository/ (generated, seeded; nothing downloaded),
measures the raw ONNX Runtime ceiling, ``mlinfer serve`` with perf_analyzer and
``mlinfer bench``, dynamic batching on/off, memory, and Triton direct vs mlinfer in front of
Triton, one server at a time. Writes bench/results/<date>/results.{json,csv} and
docs/PERFORMANCE.md. One failed measurement is reported in the tables, not fatal.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `bench` and `tests.support` are packages of the checkout


def main(argv: list[str] | None = None) -> int:
    from bench.report import render
    from bench.suite import SECTIONS, Suite, plan_for

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small models, short windows")
    parser.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help=f"comma-separated subset of {','.join(SECTIONS)}",
    )
    parser.add_argument("--repository", type=Path, default=ROOT / "bench" / "repository")
    parser.add_argument("--results", type=Path, default=None, help="results folder")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs" / "PERFORMANCE.md")
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/PERFORMANCE.md")
    parser.add_argument(
        "--render-only",
        type=Path,
        metavar="RESULTS_JSON",
        help="only re-render docs/PERFORMANCE.md from an earlier results.json",
    )
    args = parser.parse_args(argv)

    if args.render_only:
        doc = json.loads(args.render_only.read_text(encoding="utf-8"))
        doc.setdefault("repository_root", str(ROOT))
        _write_docs(args.docs, render(doc, _rel(args.render_only)))
        print(f"wrote {args.docs}")
        return 0

    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown sections {unknown}; known: {SECTIONS}")
    stamp = dt.datetime.now().strftime("%Y-%m-%d_%H%M%S") + ("-quick" if args.quick else "")
    out_dir = args.results or ROOT / "bench" / "results" / stamp
    suite = Suite(args.repository, out_dir, plan_for(args.quick))
    t0 = time.monotonic()
    if "build" not in sections:
        sections.insert(0, "build")  # cheap when the repository is up to date
    suite.run(sections)
    json_path, csv_path = suite.save()
    print(f"results: {json_path} {csv_path} ({(time.monotonic() - t0) / 60:.1f} min)")
    if not args.no_docs:
        args.docs.parent.mkdir(parents=True, exist_ok=True)
        _write_docs(args.docs, render(suite.document(), _rel(json_path)))
        print(f"wrote {args.docs}")
    return 0


def _write_docs(page: Path, text: str) -> None:
    """Write the page, keeping the section bench/hotpath.py wrote into it."""
    from bench.hotpath_report import keep_section

    old = page.read_text(encoding="utf-8") if page.exists() else ""
    page.write_text(keep_section(old, text), encoding="utf-8")


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
