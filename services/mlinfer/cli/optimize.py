"""``mlinfer optimize``: an ONNX model -> faster candidates that provably keep its accuracy."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from mlinfer.optimizer.config import PRECISIONS

EXIT_REFUSED = 1  # no candidate met the budget: nothing published
EXIT_USAGE = 2

_DESCRIPTION = """\
Turn an ONNX model into FP16 / INT8 candidates (and a TensorRT engine where TensorRT exists),
run each against the FP32 model on held-out data, and publish the fastest one that stays within
the accuracy budget as a new Triton version. An INT8 candidate over budget is retried with its
most damaging nodes kept in float. Nothing over budget is ever published: the command exits 1,
writes nothing, and the report says why.
"""

_EPILOG = """\
examples:
  mlinfer optimize model_repository/digits --calibration calib.npz --validation val.npz \\
      --output-repository optimized/
  mlinfer optimize model.onnx --config optimization_config.yaml --precision int8
  mlinfer optimize model_repository/image_cnn --calibration images/ --target tensorrt
  mlinfer optimize optimized/digits --report-only

data (--calibration/--validation): a .npz with one array per input (samples first, optional
integer 'labels'), a .npy for a one-input model, a directory of images (preprocessed as the
model's config.pbtxt declares; sub-directories are classes), or module:function returning
feeds. With labels the budget is top-1 accuracy (default: at most 1 point lost); always
per-output agreement (default: mean cosine similarity >= 0.99).

exit status: 0 published (or report produced), 1 no candidate within budget, 2 bad input.
settings: MLINFER_OPTIMIZER_CACHE_DIR, MLINFER_OPTIMIZER_TRTEXEC, MLINFER_OPTIMIZER_WORK_DIR.
"""


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "optimize",
        help="ONNX -> FP16/INT8 (TensorRT where present) behind an accuracy gate",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", type=Path, help="a model directory of a Triton repository, or .onnx")
    out = p.add_argument_group("output")
    out.add_argument(
        "--output-repository",
        type=Path,
        metavar="DIR",
        help="publish the chosen candidate as a new version here",
    )
    out.add_argument("--name", help="model name to publish under (default: the source's)")
    out.add_argument(
        "--version", type=int, metavar="N", help="version to publish (default: next free)"
    )
    out.add_argument(
        "--report-only",
        action="store_true",
        help="profile MODEL as it is; build and publish nothing",
    )
    out.add_argument(
        "--report-dir",
        type=Path,
        metavar="DIR",
        help="also write optimization_report.json/.md here (even when refused)",
    )
    out.add_argument("--json", action="store_true", help="print the report as JSON")
    out.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")

    what = p.add_argument_group("candidates")
    what.add_argument(
        "--config", type=Path, metavar="FILE", help="optimization_config.yaml (flags override it)"
    )
    what.add_argument(
        "--precision",
        action="append",
        choices=PRECISIONS,
        dest="precisions",
        help="candidate to try (repeat; default: fp16 and int8)",
    )
    what.add_argument(
        "--target",
        choices=["onnxruntime", "tensorrt"],
        help="what serves the result (default: onnxruntime)",
    )
    what.add_argument("--calibration-method", choices=["minmax", "entropy", "percentile"])
    what.add_argument(
        "--per-channel",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="INT8 weights per output channel (default: on)",
    )
    what.add_argument(
        "--reduce-range",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="7-bit INT8 weights (default: on for x86 CPUs without VNNI)",
    )
    what.add_argument(
        "--exclude-node", action="append", metavar="NODE", help="keep this node in float (repeat)"
    )

    data = p.add_argument_group("data")
    data.add_argument("--calibration", metavar="SOURCE", help="INT8 calibration samples")
    data.add_argument("--calibration-samples", type=int, metavar="N", help="default 500")
    data.add_argument(
        "--validation",
        metavar="SOURCE",
        help="held-out samples for the gate (default: the calibration source's "
        "samples after those used to calibrate)",
    )
    data.add_argument("--validation-samples", type=int, metavar="N", help="default 200")
    data.add_argument("--labels", metavar="KEY", help="key of the labels in the data")

    budget = p.add_argument_group("budget")
    budget.add_argument(
        "--max-accuracy-drop",
        type=float,
        metavar="POINTS",
        help="top-1 accuracy points a candidate may lose (default 1)",
    )
    budget.add_argument(
        "--min-cosine", type=float, metavar="C", help="per-output floor (default 0.99)"
    )
    budget.add_argument("--min-sqnr", type=float, metavar="DB", help="per-output SQNR floor")
    budget.add_argument("--min-top1-agreement", type=float, metavar="FRACTION")
    budget.add_argument(
        "--fallback-rounds",
        type=int,
        metavar="N",
        help="INT8 rounds keeping more nodes in float (default 4; 0 = off)",
    )

    trt = p.add_argument_group("TensorRT (--target tensorrt)")
    trt.add_argument(
        "--workspace-mib", type=int, metavar="MIB", help="builder memory pool (default 1024)"
    )
    trt.add_argument("--dla-core", type=int, metavar="N", help="Jetson: build for this DLA core")
    trt.add_argument(
        "--timing-cache", type=Path, metavar="FILE", help="timing cache file to reuse and update"
    )
    p.set_defaults(run=run)


_OVERRIDES = {
    "precisions": "precisions",
    "target": "target",
    "calibration_method": "int8.method",
    "per_channel": "int8.per_channel",
    "reduce_range": "int8.reduce_range",
    "exclude_node": "int8.exclude_nodes",
    "calibration": "calibration.source",
    "calibration_samples": "calibration.samples",
    "validation": "validation.source",
    "validation_samples": "validation.samples",
    "max_accuracy_drop": "budget.max_accuracy_drop",
    "min_cosine": "budget.min_cosine",
    "min_sqnr": "budget.min_sqnr_db",
    "min_top1_agreement": "budget.min_top1_agreement",
    "fallback_rounds": "fallback.max_rounds",
    "workspace_mib": "tensorrt.workspace_mib",
    "dla_core": "tensorrt.dla_core",
    "timing_cache": "tensorrt.timing_cache",
}


def run(args: argparse.Namespace) -> int:
    from mlinfer.core.errors import MLInferError
    from mlinfer.optimizer.config import load_config, with_overrides
    from mlinfer.optimizer.errors import BudgetExceededError
    from mlinfer.optimizer.pipeline import OptimizeRequest, optimize, profile_only
    from mlinfer.optimizer.progress import Progress, silent, stderr_reporter
    from mlinfer.optimizer.settings import OptimizerSettings
    from mlinfer.optimizer.source import resolve_source

    progress = Progress(silent if args.quiet else stderr_reporter())
    try:
        source = resolve_source(args.model, args.name)
        overrides = {key: getattr(args, flag) for flag, key in _OVERRIDES.items()}
        if args.labels:
            overrides["calibration.labels"] = overrides["validation.labels"] = args.labels
        config = with_overrides(load_config(args.config, source.name), overrides)
        settings = OptimizerSettings()
        if args.report_only:
            report = profile_only(source, config, settings, progress)
        else:
            request = OptimizeRequest(
                source, config, args.output_repository, args.name, args.version
            )
            report = optimize(request, settings, progress)
    except BudgetExceededError as exc:
        print(f"mlinfer optimize: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except (MLInferError, ValueError) as exc:
        print(f"mlinfer optimize: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.report_dir is not None:
        report.write(args.report_dir)
    print(report.to_json() if args.json else report.to_markdown(), end="")
    if not report.passed:
        print(f"mlinfer optimize: nothing published: {report.reason}", file=sys.stderr)
        return EXIT_REFUSED
    if args.output_repository is None and not args.report_only:
        print(
            "mlinfer optimize: within budget; give --output-repository to publish it",
            file=sys.stderr,
        )
    return 0


def trt_optimize(argv: list[str] | None = None) -> int:
    """``trt-optimize`` (the specification's name): ``mlinfer optimize --target tensorrt``."""
    from mlinfer.cli.main import main

    return main(["optimize", "--target", "tensorrt", *(sys.argv[1:] if argv is None else argv)])
