"""Stages 2 + 5 for one precision: build the candidate, gate it, fall back until it fits.

An INT8 candidate over budget is rebuilt with the nodes that damage its outputs most kept in
float (:mod:`mlinfer.optimizer.sensitivity`), re-calibrated, and gated again: up to
``fallback.max_rounds`` rounds, excluding ``nodes_per_round`` more nodes each round. With
``fp16.auto_mixed_precision`` an FP16 candidate falls back the same way (mixed precision).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from mlinfer.core.errors import MLInferError
from mlinfer.optimizer.config import ModelOptimization, Precision
from mlinfer.optimizer.data import Dataset
from mlinfer.optimizer.errors import DataError
from mlinfer.optimizer.fp16 import convert_fp16
from mlinfer.optimizer.gate import GateResult, evaluate
from mlinfer.optimizer.int8 import quantize_int8_dynamic, quantize_int8_static
from mlinfer.optimizer.progress import Progress
from mlinfer.optimizer.report import CandidateReport
from mlinfer.optimizer.runner import Outputs, open_session, run_dataset
from mlinfer.optimizer.sensitivity import node_damage


@dataclass(frozen=True)
class GateInputs:
    validation: Dataset
    reference: Outputs
    calibration: Dataset | None


class CandidateBuilder:
    def __init__(
        self,
        fp32: Path,
        work: Path,
        config: ModelOptimization,
        data: GateInputs,
        progress: Progress,
    ) -> None:
        self.fp32 = fp32
        self.work = work
        self.config = config
        self.data = data
        self.progress = progress

    def gate(self, path: Path) -> GateResult:
        session = open_session(path)
        outputs = run_dataset(session, self.data.validation, outputs=list(self.data.reference))
        return evaluate(
            self.config.budget, self.data.reference, outputs, self.data.validation.labels
        )

    def build(self, precision: Precision) -> CandidateReport:
        report = CandidateReport(precision)
        start = time.monotonic()
        try:
            with self.progress.step(f"{precision} candidate"):
                self._build(precision, report)
        except MLInferError as exc:
            report.status, report.error = "error", str(exc)
            self.progress.report(f"[optimize]   {precision}: {exc}")
        except Exception as exc:  # a converter's own failure: lose this candidate, not the run
            report.status, report.error = "error", f"{type(exc).__name__}: {exc}"
            self.progress.report(f"[optimize]   {precision} failed: {report.error}")
        report.build_s = time.monotonic() - start
        return report

    def _build(self, precision: Precision, report: CandidateReport) -> None:
        if precision == "fp32":
            report.path = self.fp32
        elif precision == "fp16":
            report.path = convert_fp16(self.fp32, self.work / "model.fp16.onnx", self.config.fp16)
        else:
            report.path = self._int8(precision, [], 0)
        report.gate = self.gate(report.path)
        if precision.startswith("int8") or (
            precision == "fp16" and self.config.fp16.auto_mixed_precision
        ):
            self._fallback(precision, report)
        report.status = "passed" if report.gate.passed else "over budget"
        self.progress.report(f"[optimize]   {precision}: {report.status}: {report.gate.worst()}")

    def _rebuild(self, precision: Precision, exclude: list[str], round_: int) -> Path:
        if precision == "fp16":  # mixed precision: the excluded nodes stay FP32
            options = self.config.fp16.model_copy(
                update={"node_block_list": (*self.config.fp16.node_block_list, *exclude)}
            )
            return convert_fp16(self.fp32, self.work / f"model.fp16.r{round_}.onnx", options)
        return self._int8(precision, exclude, round_)

    def _int8(self, precision: Precision, exclude: list[str], round_: int) -> Path:
        target = self.work / f"model.{precision}.r{round_}.onnx"
        if precision == "int8_dynamic":
            return quantize_int8_dynamic(self.fp32, target, self.config.int8, exclude=exclude)
        calibration = self.data.calibration
        if calibration is None:
            raise DataError("int8 needs calibration data: give --calibration")
        counter = self.progress.counter("calibration samples", len(calibration))
        return quantize_int8_static(
            self.fp32,
            target,
            calibration,
            self.config.int8,
            target_kind=self.config.target,
            exclude=exclude,
            progress=counter,
        )

    def _fallback(self, precision: Precision, report: CandidateReport) -> None:
        policy = self.config.fallback
        assert report.gate is not None and report.path is not None
        excluded: list[str] = []
        while not report.gate.passed and report.fallback_rounds < policy.max_rounds:
            sample = self.data.validation.take(0, policy.sensitivity_samples)
            ranked = node_damage(
                self.fp32, report.path, sample, skip=excluded, every_node=precision == "fp16"
            )
            if not ranked:
                break
            worst = [d.node for d in ranked[: policy.nodes_per_round]]
            excluded += worst
            report.fallback_rounds += 1
            self.progress.report(
                f"[optimize]   over budget ({'; '.join(report.gate.reasons)}); round "
                f"{report.fallback_rounds}: keeping {', '.join(worst)} in float"
            )
            report.path = self._rebuild(precision, excluded, report.fallback_rounds)
            report.gate = self.gate(report.path)
        report.excluded_nodes = excluded
