"""Canary analysis, Flagger-style, as pure functions over per-arm counters.

Counters come from the gateways' ``mlinfer_model_request_duration_seconds`` histogram
(labels model, version, outcome): cumulative bucket counts per arm; for classifiers also
``mlinfer_model_predictions_total`` (labels model, version, class): the class distribution
an A/B report shows. A check compares what happened since the step began (the difference
of two snapshots):

- too few requests on an arm (``min_requests``): hold; never promote on no data;
- success rate (server-side failures only; clients' 4xx are not the canary's fault)
  below ``min_success_rate`` (99 %): failed check;
- p99 (p95 too when bounded) above ``max_p99_ms``, or above baseline p99 x
  ``max_p99_factor``: failed check.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

METRIC = "mlinfer_model_request_duration_seconds"
PREDICTIONS = "mlinfer_model_predictions"
SUCCESS, FAILURE = "success", "failure"  # the outcomes analysis counts (client errors are not)


@dataclass(frozen=True)
class AnalysisConfig:
    min_requests: int = 20
    min_success_rate: float = 99.0  # percent
    max_p99_ms: float | None = None
    max_p99_factor: float | None = 1.5
    max_p95_ms: float | None = None
    # Latency noise allowance: a canary within this many ms of the baseline p99 passes.
    p99_slack_ms: float = 1.0
    threshold: int = 2  # failed checks before rollback

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> AnalysisConfig:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(doc) - known)
        if unknown:
            raise ValueError(f"unknown analysis field(s) {unknown}; known: {sorted(known)}")
        config = cls(**doc)
        if config.min_requests < 1 or config.threshold < 1:
            raise ValueError("min_requests and threshold must be >= 1")
        if not 0 < config.min_success_rate <= 100:
            raise ValueError("min_success_rate is a percentage in (0, 100]")
        return config

    def as_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass
class ArmCounters:
    """Cumulative counts of one arm: requests by outcome, latency buckets (le -> count) and,
    for classifiers, predictions by class."""

    outcomes: dict[str, float] = field(default_factory=dict)
    buckets: dict[float, float] = field(default_factory=dict)  # successes + failures
    classes: dict[str, float] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "outcomes": self.outcomes,
            "buckets": {repr(k): v for k, v in self.buckets.items()},
            "classes": self.classes,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> ArmCounters:
        return cls(
            {k: float(v) for k, v in doc.get("outcomes", {}).items()},
            {float(k): float(v) for k, v in doc.get("buckets", {}).items()},
            {k: float(v) for k, v in doc.get("classes", {}).items()},  # older rows: none
        )

    def minus(self, earlier: ArmCounters) -> ArmCounters:
        """Counts since ``earlier``; a counter that went down was reset (gateway restart)."""
        if any(v < earlier.outcomes.get(k, 0) for k, v in self.outcomes.items()):
            return self
        return ArmCounters(
            {k: v - earlier.outcomes.get(k, 0) for k, v in self.outcomes.items()},
            {k: v - earlier.buckets.get(k, 0) for k, v in self.buckets.items()},
            {k: v - earlier.classes.get(k, 0) for k, v in self.classes.items()},
        )

    @property
    def judged(self) -> float:
        return self.outcomes.get(SUCCESS, 0) + self.outcomes.get(FAILURE, 0)

    def success_rate(self) -> float:
        return 100.0 * self.outcomes.get(SUCCESS, 0) / self.judged if self.judged else 100.0

    def quantile_ms(self, q: float) -> float:
        """Like PromQL's histogram_quantile: linear within the bucket that holds rank q."""
        total = self.judged
        if not total or not self.buckets:
            return 0.0
        rank = q * total
        lower_le, lower_count = 0.0, 0.0
        for le, count in sorted(self.buckets.items()):
            if count >= rank:
                if math.isinf(le):
                    return lower_le * 1000
                width = count - lower_count
                frac = (rank - lower_count) / width if width else 1.0
                return (lower_le + (le - lower_le) * frac) * 1000
            lower_le, lower_count = le, count
        return lower_le * 1000

    def summary(self) -> dict[str, Any]:
        return {
            "requests": int(self.judged),
            "errors": int(self.outcomes.get(FAILURE, 0)),
            "client_errors": int(self.outcomes.get("client_error", 0)),
            "success_rate": round(self.success_rate(), 3),
            "p50_ms": round(self.quantile_ms(0.50), 3),
            "p95_ms": round(self.quantile_ms(0.95), 3),
            "p99_ms": round(self.quantile_ms(0.99), 3),
            # Predicted class -> count, most frequent first (empty for other models).
            "classes": {
                k: int(v)
                for k, v in sorted(self.classes.items(), key=lambda kv: (-kv[1], kv[0]))
                if v > 0
            },
        }


def parse_counters(texts: list[str], model: str) -> dict[str, ArmCounters]:
    """Per-version counters of ``model``, summed over every gateway's /metrics text."""
    arms: dict[str, ArmCounters] = {}
    for text in texts:
        for family in text_string_to_metric_families(text):
            if family.name not in (METRIC, PREDICTIONS):
                continue
            for sample in family.samples:
                labels = sample.labels
                if labels.get("model") != model:
                    continue
                arm = arms.setdefault(labels.get("version", ""), ArmCounters())
                if family.name == PREDICTIONS:  # its _created samples are a family of their own
                    name = labels.get("class", "")
                    arm.classes[name] = arm.classes.get(name, 0) + sample.value
                    continue
                outcome = labels.get("outcome", "")
                if sample.name.endswith("_count"):
                    arm.outcomes[outcome] = arm.outcomes.get(outcome, 0) + sample.value
                elif sample.name.endswith("_bucket") and outcome in (SUCCESS, FAILURE):
                    le = float(labels["le"])
                    arm.buckets[le] = arm.buckets.get(le, 0) + sample.value
    return arms


@dataclass(frozen=True)
class Verdict:
    result: str  # pass | fail | hold
    reason: str
    baseline: dict[str, Any]
    canary: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {
            "result": self.result,
            "reason": self.reason,
            "baseline": self.baseline,
            "canary": self.canary,
        }


def judge(
    config: AnalysisConfig, baseline: ArmCounters, canary: ArmCounters, baseline_weight: int
) -> Verdict:
    """One check of the canary against the baseline (``baseline_weight`` 0: bounds only)."""
    b, c = baseline.summary(), canary.summary()
    need_baseline = baseline_weight > 0 and config.max_p99_factor is not None
    if c["requests"] < config.min_requests or (
        need_baseline and b["requests"] < config.min_requests
    ):
        return Verdict(
            "hold",
            f"too few requests to judge (canary {c['requests']}, baseline {b['requests']}, "
            f"need {config.min_requests} each)",
            b,
            c,
        )
    failures = []
    if c["success_rate"] < config.min_success_rate:
        failures.append(
            f"success rate {c['success_rate']}% < {config.min_success_rate}% "
            f"({c['errors']} of {c['requests']} failed)"
        )
    if config.max_p99_ms is not None and c["p99_ms"] > config.max_p99_ms:
        failures.append(f"p99 {c['p99_ms']} ms > bound {config.max_p99_ms} ms")
    if config.max_p95_ms is not None and c["p95_ms"] > config.max_p95_ms:
        failures.append(f"p95 {c['p95_ms']} ms > bound {config.max_p95_ms} ms")
    if need_baseline and config.max_p99_factor is not None:
        limit = b["p99_ms"] * config.max_p99_factor
        if c["p99_ms"] > limit and c["p99_ms"] - b["p99_ms"] > config.p99_slack_ms:
            failures.append(
                f"p99 {c['p99_ms']} ms > baseline p99 {b['p99_ms']} ms x "
                f"{config.max_p99_factor} = {round(limit, 3)} ms"
            )
    if failures:
        return Verdict("fail", "; ".join(failures), b, c)
    return Verdict("pass", "within bounds", b, c)
