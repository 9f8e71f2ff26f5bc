"""One check of one box, with the canary judge (``analysis.judge``) over its own metrics.

What the box's version served since the deploy is the canary arm; what the box's previous
version served before the deploy (same box, same hardware) is the baseline when it had
``min_requests``, else latency is held to the absolute bounds only.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from mlinfer.registry.analysis import AnalysisConfig, ArmCounters, judge
from mlinfer.registry.fleet_waves import FAILED, SUCCEEDED, FleetCriteria


def served(counters: dict[str, ArmCounters], version: int) -> ArmCounters:
    """What ``version`` served on a box. The box holds no other version of the model, so
    failed requests that named none (counted under version "", since no traffic policy
    routed them to one) are its failures too."""
    total = ArmCounters()
    for arm in (counters.get(str(version)), counters.get("")):
        for key, value in (arm.outcomes if arm else {}).items():
            total.outcomes[key] = total.outcomes.get(key, 0) + value
        for le, count in (arm.buckets if arm else {}).items():
            total.buckets[le] = total.buckets.get(le, 0) + count
    return total


def judge_box(
    t: dict[str, Any],
    version: int,
    ready: list[int],
    now: dict[str, ArmCounters],
    analysis: AnalysisConfig,
    criteria: FleetCriteria,
) -> None:
    """Update the box's status ``t`` (state, reason, counts of failed checks and holds)."""
    if version not in ready:
        t["state"], t["reason"] = FAILED, f"version {version} is not ready on the box"
        return
    saved = {v: ArmCounters.from_json(c) for v, c in t.get("counters", {}).items()}
    since = served(now, version).minus(served(saved, version))
    previous = t.get("previous") or []
    baseline = saved.get(str(max(previous))) if previous else None
    weight = 1 if baseline is not None and baseline.judged >= analysis.min_requests else 0
    verdict = judge(analysis, baseline or ArmCounters(), since, weight)
    t["last_check"] = {"at": datetime.now(timezone.utc).isoformat(), **verdict.as_json()}
    if verdict.result == "pass":
        t["state"], t["reason"] = SUCCEEDED, verdict.reason
    elif verdict.result == "fail":
        t["failed_checks"] = t.get("failed_checks", 0) + 1
        t["reason"] = verdict.reason
        if t["failed_checks"] >= analysis.threshold:
            t["state"] = FAILED
    else:
        t["holds"] = t.get("holds", 0) + 1
        t["reason"] = verdict.reason
        if t["holds"] >= criteria.max_holds:
            if criteria.require_traffic:
                t["state"] = FAILED
            else:
                t["state"] = SUCCEEDED
                t["reason"] = f"ready; never enough traffic to judge ({verdict.reason})"
