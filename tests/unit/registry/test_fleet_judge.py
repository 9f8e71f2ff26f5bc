"""One box's check: readiness, errors since the deploy, holds for traffic, the baseline."""

from __future__ import annotations

from typing import Any

from mlinfer.registry.analysis import AnalysisConfig, ArmCounters
from mlinfer.registry.fleet_judge import judge_box, served
from mlinfer.registry.fleet_waves import FleetCriteria

ANALYSIS = AnalysisConfig(min_requests=10, threshold=2, max_p99_factor=2.0, p99_slack_ms=1.0)


def _arm(success: float = 0, failure: float = 0, le_ms: float = 5.0) -> ArmCounters:
    """Every request in the bucket that ends at ``le_ms``."""
    total = success + failure
    return ArmCounters(
        {"success": success, "failure": failure},
        {le_ms / 1000: total, float("inf"): total},
    )


def _box(counters: dict[str, ArmCounters], previous: list[int] | None = None) -> dict[str, Any]:
    return {
        "state": "observing",
        "reason": "",
        "failed_checks": 0,
        "holds": 0,
        "previous": previous if previous is not None else [1],
        "counters": {v: c.as_json() for v, c in counters.items()},
    }


def test_served_counts_unversioned_failures_as_the_only_versions() -> None:
    arm = served({"2": _arm(success=5), "": _arm(failure=3), "1": _arm(success=100)}, 2)
    assert arm.outcomes == {"success": 5, "failure": 3}
    assert arm.judged == 8


def test_pass_on_clean_traffic_since_the_deploy() -> None:
    box = _box({"1": _arm(success=100), "2": _arm(success=50)})  # 50 served before: not judged
    judge_box(box, 2, [2], {"1": _arm(success=100), "2": _arm(success=80)}, ANALYSIS,
              FleetCriteria())  # fmt: skip
    assert box["state"] == "succeeded", box
    assert box["last_check"]["canary"]["requests"] == 30


def test_errors_since_the_deploy_fail_after_threshold_checks() -> None:
    box = _box({"1": _arm(success=100)})
    now = {"1": _arm(success=100), "2": _arm(success=10), "": _arm(failure=10)}
    judge_box(box, 2, [2], now, ANALYSIS, FleetCriteria())
    assert (box["state"], box["failed_checks"]) == ("observing", 1)
    assert "success rate 50.0%" in box["reason"]
    judge_box(box, 2, [2], now, ANALYSIS, FleetCriteria())
    assert (box["state"], box["failed_checks"]) == ("failed", 2)


def test_slower_than_the_previous_version_on_the_same_box_fails() -> None:
    box = _box({"1": _arm(success=100, le_ms=5)})
    now = {"1": _arm(success=100, le_ms=5), "2": _arm(success=40, le_ms=50)}
    judge_box(box, 2, [2], now, AnalysisConfig(min_requests=10, threshold=1), FleetCriteria())
    assert box["state"] == "failed" and "baseline p99" in box["reason"], box
    fresh = _box({}, previous=[])  # no previous version: latency bounds only
    judge_box(fresh, 2, [2], {"2": _arm(success=40, le_ms=50)},
              AnalysisConfig(min_requests=10, threshold=1), FleetCriteria())  # fmt: skip
    assert fresh["state"] == "succeeded", fresh


def test_not_ready_fails_at_once() -> None:
    box = _box({})
    judge_box(box, 2, [1], {}, ANALYSIS, FleetCriteria())
    assert box["state"] == "failed" and "not ready" in box["reason"]


def test_too_little_traffic_holds_then_fails_or_passes_by_the_criteria() -> None:
    for require, end in ((True, "failed"), (False, "succeeded")):
        box = _box({})
        criteria = FleetCriteria(max_holds=2, require_traffic=require)
        judge_box(box, 2, [2], {"2": _arm(success=3)}, ANALYSIS, criteria)
        assert (box["state"], box["holds"]) == ("observing", 1)
        judge_box(box, 2, [2], {"2": _arm(success=3)}, ANALYSIS, criteria)
        assert box["state"] == end, box
