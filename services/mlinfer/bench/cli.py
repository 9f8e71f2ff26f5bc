"""The ``mlinfer bench`` command line: options (stdlib only, cheap to import) and the run."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _levels(text: str) -> tuple[int, ...]:
    try:
        levels = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if not levels or min(levels) < 1:
        raise argparse.ArgumentTypeError("concurrency levels must be integers >= 1")
    return levels


def _shape(text: str) -> tuple[str, tuple[int, ...]]:
    name, sep, dims = text.rpartition(":")
    try:
        values = tuple(int(d) for d in dims.split(","))
    except ValueError:
        values = ()
    if not sep or not name or not values:
        raise argparse.ArgumentTypeError(f"expected NAME:D1,D2,..., got {text!r}")
    return name, values


def _int_range(text: str) -> tuple[int, int]:
    low, sep, high = text.partition(":")
    try:
        lo, hi = int(low), int(high)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LOW:HIGH, got {text!r}") from None
    if not sep or hi <= lo:
        raise argparse.ArgumentTypeError(f"expected LOW:HIGH with HIGH > LOW, got {text!r}")
    return lo, hi


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="model name")
    p.add_argument(
        "-u",
        "--url",
        default=None,
        help="server host:port (default 127.0.0.1:8000 for http, 127.0.0.1:8001 for grpc)",
    )
    p.add_argument("-i", "--protocol", choices=["http", "grpc"], default="http")
    p.add_argument(
        "--encoding",
        choices=["binary", "json"],
        default="binary",
        help="http: binary tensor extension or JSON tensors (gRPC is always raw bytes)",
    )
    p.add_argument("-x", "--model-version", default="", help="version (default: server's choice)")
    p.add_argument("-b", "--batch-size", type=int, default=1, help="batch size of each request")
    p.add_argument(
        "-c",
        "--concurrency",
        type=_levels,
        default=(1,),
        help="requests in flight; comma-separated levels to sweep, e.g. 1,8,32",
    )
    amount = p.add_mutually_exclusive_group()
    amount.add_argument(
        "-d", "--duration", type=float, default=10.0, help="seconds measured per level"
    )
    amount.add_argument(
        "-n", "--requests", type=int, default=None, help="replies measured per level"
    )
    p.add_argument("--warmup", type=float, default=2.0, help="seconds of unmeasured load first")
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="client processes sharing the load (more when one client process is the limit)",
    )
    p.add_argument(
        "--shape",
        type=_shape,
        action="append",
        default=[],
        metavar="NAME:D1,D2",
        help="shape of an input with dynamic dims, without the batch dim (repeatable)",
    )
    p.add_argument(
        "--dynamic-dim",
        type=int,
        default=8,
        help="size used for dynamic (-1) dims that --shape does not cover",
    )
    p.add_argument(
        "--int-range",
        type=_int_range,
        default=(0, 2),
        metavar="LOW:HIGH",
        help="integer inputs are uniform in [LOW, HIGH) (default 0:2: valid token ids/masks)",
    )
    p.add_argument("--timeout", type=float, default=300.0, help="per-request timeout (gRPC)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random input data")
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        help="result files stem: writes STEM.json and STEM.csv "
        "(default bench-<model>-<protocol>-<encoding>)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")


def run_from_args(args: argparse.Namespace) -> int:
    from mlinfer.bench.loadgen import LoadConfig, Progress, run_load
    from mlinfer.bench.results import write_results

    url = args.url or ("127.0.0.1:8001" if args.protocol == "grpc" else "127.0.0.1:8000")
    try:
        config = LoadConfig(
            url=url,
            model=args.model,
            protocol=args.protocol,
            encoding=args.encoding,
            version=args.model_version,
            batch_size=args.batch_size,
            concurrency=tuple(args.concurrency),
            duration_s=args.duration,
            requests=args.requests,
            warmup_s=args.warmup,
            workers=args.workers,
            shapes=dict(args.shape),
            dynamic_dim=args.dynamic_dim,
            int_range=tuple(args.int_range),
            timeout_s=args.timeout,
            seed=args.seed,
        )
        levels = run_load(config, progress=Progress(None if args.quiet else sys.stderr))
    except Exception as exc:  # a CLI: say what failed, no traceback
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    stem = args.output or Path(f"bench-{args.model}-{args.protocol}-{config.effective_encoding}")
    json_path, csv_path = write_results(stem, config, levels)
    print(
        f"{'CONC':>5} {'INFER/S':>10} {'REQ/S':>10} {'P50 ms':>9} {'P95 ms':>9} "
        f"{'P99 ms':>9} {'ERRORS':>7}"
    )
    for level in levels:
        lat = level.latency_ms
        cells = [_fmt(lat.get(k)) for k in ("p50", "p95", "p99")]
        print(
            f"{level.concurrency:>5} {level.infer_per_s:>10.1f} {level.requests_per_s:>10.1f} "
            f"{cells[0]:>9} {cells[1]:>9} {cells[2]:>9} {level.errors:>7}"
        )
    print(f"results: {json_path} {csv_path}")
    return 1 if any(level.errors for level in levels) else 0


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"
