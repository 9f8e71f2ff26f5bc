"""Stage 6b: the optimization report, as JSON (for the registry) and Markdown (for people)."""

from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mlinfer.optimizer.gate import GateResult
from mlinfer.optimizer.profile import ProfileResult

REPORT_JSON = "optimization_report.json"
REPORT_MD = "optimization_report.md"


@dataclass
class CandidateReport:
    precision: str
    status: str = "pending"
    """passed | over budget | error | reference"""
    path: Path | None = None
    gate: GateResult | None = None
    profile: ProfileResult | None = None
    excluded_nodes: list[str] = field(default_factory=list)
    fallback_rounds: int = 0
    error: str | None = None
    build_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "precision": self.precision,
            "status": self.status,
            "file": self.path.name if self.path else None,
            "gate": self.gate.as_dict() if self.gate else None,
            "profile": self.profile.as_dict() if self.profile else None,
            "excluded_nodes": self.excluded_nodes,
            "fallback_rounds": self.fallback_rounds,
            "error": self.error,
            "build_s": round(self.build_s, 3),
        }


@dataclass
class Report:
    model: str
    source: str
    target: str
    candidates: list[CandidateReport] = field(default_factory=list)
    published: dict[str, Any] | None = None
    passed: bool = False
    reason: str | None = None
    wall_s: float = 0.0
    notes: list[str] = field(default_factory=list)
    created: str = field(
        default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds")
    )

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "source": self.source,
            "target": self.target,
            "created": self.created,
            "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()},
            "passed": self.passed,
            "reason": self.reason,
            "published": self.published,
            "optimizer_wall_s": round(self.wall_s, 2),
            "candidates": [c.as_dict() for c in self.candidates],
            "notes": self.notes,
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, allow_nan=False, default=str) + "\n"

    def to_markdown(self) -> str:
        return render_markdown(self)

    def write(self, directory: Path) -> list[Path]:
        directory.mkdir(parents=True, exist_ok=True)
        paths = [directory / REPORT_JSON, directory / REPORT_MD]
        paths[0].write_text(self.to_json(), encoding="utf-8")
        paths[1].write_text(self.to_markdown(), encoding="utf-8")
        return paths


def _num(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _agreement(gate: GateResult | None) -> str:
    if gate is None:
        return "-"
    parts = []
    if gate.accuracy is not None:
        parts.append(f"top-1 {gate.accuracy.candidate * 100:.2f}%")
    for o in gate.outputs:
        top1 = f", top-1 agr {o.top1_agreement * 100:.1f}%" if o.top1_agreement is not None else ""
        sqnr = "exact" if o.sqnr_db == float("inf") else f"{o.sqnr_db:.1f} dB"
        parts.append(f"{o.name}: cos {o.cosine:.4f}, SQNR {sqnr}{top1}")
    return "; ".join(parts)


def render_markdown(report: Report) -> str:
    verdict = (
        f"published {report.published['precision']} as version {report.published['version']}"
        if report.published
        else ("passed (report only)" if report.passed else f"NOT published: {report.reason}")
    )
    lines = [
        f"# Optimization report: {report.model}",
        "",
        f"- source: `{report.source}`; target: {report.target}; created {report.created}",
        f"- result: {verdict}",
        f"- optimizer wall time: {report.wall_s:.1f} s",
        "",
        "| precision | status | p50 ms (b1) | p99 ms (b1) | best batch | samples/s | size MB "
        "| memory MB | accuracy / agreement |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for c in report.candidates:
        p = c.profile
        lines.append(
            f"| {c.precision} | {c.status} | {_num(p.p50_ms if p else None, 3)} | "
            f"{_num(p.p99_ms if p else None, 3)} | {p.best_batch if p else '-'} | "
            f"{_num(p.throughput if p else None, 1)} | "
            f"{_num(p.size_bytes / 1e6 if p else None)} | "
            f"{_num(p.peak_memory_mb if p else None, 1)} | {_agreement(c.gate)} |"
        )
    details = []
    for c in report.candidates:
        if c.gate and c.gate.reasons:
            details += [f"- {c.precision}: " + "; ".join(c.gate.reasons)]
        if c.excluded_nodes:
            details += [
                f"- {c.precision}: kept in float after {c.fallback_rounds} fallback "
                f"round(s): {', '.join(c.excluded_nodes)}"
            ]
        if c.error:
            details += [f"- {c.precision}: {c.error}"]
    if details:
        lines += ["", "## Details", "", *details]
    if report.notes:
        lines += ["", "## Notes", "", *(f"- {n}" for n in report.notes)]
    return "\n".join(lines) + "\n"
