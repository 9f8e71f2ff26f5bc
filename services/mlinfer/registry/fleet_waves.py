"""Fleet rollout plans as pure functions: who is targeted, which wave each box is in,
and when a rollout must abort.

A wave is ``{"count": N}`` (N more boxes), ``{"percent": P}`` (until P % of the targets
are in, counted from the first wave), or ``{"selector": {...}}`` (the targets with those
labels), a selector optionally bounded by a count or percent. Boxes are taken in name
order, so a plan is reproducible. Targets no wave took form one last wave: a plan never
leaves a targeted box behind.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mlinfer.registry.errors import BadRequestError

# Box states within a rollout.
PENDING = "pending"  # its wave has not reached it yet
OBSERVING = "observing"  # the version is loaded; its metrics are being judged
SUCCEEDED = "succeeded"
FAILED = "failed"  # deploy refused, not ready, or failed checks
OFFLINE = "offline"  # unreachable when its turn came (or while it was judged)
ROLLED_BACK = "rolled_back"
ROLLBACK_PENDING = "rollback_pending"  # must return to its previous version when back
SKIPPED = "skipped"  # the rollout ended before this box was touched

_WAVE_KEYS = {"count", "percent", "selector"}


@dataclass(frozen=True)
class FleetCriteria:
    """How long each box is watched, and what failure share of a rollout aborts it."""

    soak_s: float = 60.0  # time between a box's deploy and each check of its metrics
    max_failed_percent: float = 0.0  # abort when failed boxes exceed this share of the judged
    require_traffic: bool = True  # a box never given enough requests to judge fails
    max_holds: int = 10  # checks a box may wait for traffic before that rule applies

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> FleetCriteria:
        unknown = sorted(set(doc) - set(cls.__dataclass_fields__))
        if unknown:
            raise BadRequestError(
                f"unknown criteria field(s) {unknown}; known: {sorted(cls.__dataclass_fields__)}"
            )
        try:
            criteria = cls(**doc)
        except TypeError as exc:
            raise BadRequestError(f"invalid criteria: {exc}") from None
        if not criteria.soak_s > 0:
            raise BadRequestError("soak_s must be > 0")
        if not 0 <= criteria.max_failed_percent < 100:
            raise BadRequestError("max_failed_percent is a percentage in [0, 100)")
        if criteria.max_holds < 1:
            raise BadRequestError("max_holds must be >= 1")
        return criteria

    def as_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def check_selector(selector: Any, what: str = "selector") -> dict[str, str]:
    if not isinstance(selector, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in selector.items()
    ):
        raise BadRequestError(f"{what} must be an object of label -> value strings")
    return dict(selector)


def matches(labels: Mapping[str, Any], selector: Mapping[str, str]) -> bool:
    """Every label of the selector, equal (a selector of no labels matches every box)."""
    return all(str(labels.get(key)) == value for key, value in selector.items())


def check_waves(waves: Any) -> list[dict[str, Any]]:
    if not isinstance(waves, list) or not waves:
        raise BadRequestError('waves: a non-empty list, e.g. [{"count": 1}, {"percent": 100}]')
    checked = []
    for i, wave in enumerate(waves):
        where = f"wave {i + 1}"
        if not isinstance(wave, dict) or not wave or set(wave) - _WAVE_KEYS:
            raise BadRequestError(f"{where} must be an object with count, percent and/or selector")
        if "count" in wave and "percent" in wave:
            raise BadRequestError(f"{where}: give count or percent, not both")
        count, percent = wave.get("count"), wave.get("percent")
        if count is not None and (not isinstance(count, int) or isinstance(count, bool)
                                  or count < 1):  # fmt: skip
            raise BadRequestError(f"{where}: count must be an integer >= 1")
        if percent is not None and (
            not isinstance(percent, (int, float)) or isinstance(percent, bool)
            or not 0 < percent <= 100
        ):  # fmt: skip
            raise BadRequestError(f"{where}: percent must be in (0, 100]")
        if "selector" in wave:
            check_selector(wave["selector"], f"{where}: selector")
        checked.append(dict(wave))
    return checked


def plan(
    boxes: Iterable[tuple[str, Mapping[str, Any]]],
    selector: Mapping[str, str],
    waves: list[dict[str, Any]],
) -> list[list[str]]:
    """The boxes of each wave (empty waves dropped; the untaken rest is one more wave)."""
    targets = sorted((name, labels) for name, labels in boxes if matches(labels, selector))
    taken: set[str] = set()
    planned: list[list[str]] = []
    for wave in waves:
        pool = [n for n, labels in targets if n not in taken
                and matches(labels, wave.get("selector", {}))]  # fmt: skip
        if "count" in wave:
            pool = pool[: wave["count"]]
        elif "percent" in wave:
            goal = math.ceil(len(targets) * wave["percent"] / 100 - 1e-9)
            pool = pool[: max(0, goal - len(taken))]
        if pool:
            planned.append(pool)
            taken.update(pool)
    rest = [n for n, _ in targets if n not in taken]
    if rest:
        planned.append(rest)
    return planned


def failed_share(states: Iterable[str]) -> tuple[int, int]:
    """(failed, judged): boxes that finished their checks, and how many of them failed."""
    done = [s for s in states if s in (SUCCEEDED, FAILED)]
    return sum(1 for s in done if s == FAILED), len(done)


def must_abort(criteria: FleetCriteria, states: Iterable[str]) -> str:
    """The abort reason, or '' while the failure share is within the criteria."""
    failed, judged = failed_share(states)
    if failed and 100.0 * failed / judged > criteria.max_failed_percent:
        return (
            f"{failed} of {judged} judged boxes failed "
            f"({round(100.0 * failed / judged, 1)}% > {criteria.max_failed_percent}%)"
        )
    return ""


def parse_wave_token(token: str) -> dict[str, Any]:
    """The CLI's wave syntax: ``1``, ``10%``, ``site=lab``, ``site=lab,hw=orin@50%``."""
    labels, _, bound = token.partition("@") if "=" in token else ("", "", token)
    wave: dict[str, Any] = {}
    if labels:
        selector = {}
        for item in labels.split(","):
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise ValueError(f"wave '{token}': labels are KEY=VALUE[,KEY=VALUE]")
            selector[key] = value
        wave["selector"] = selector
    if bound:
        try:
            if bound.endswith("%"):
                wave["percent"] = float(bound[:-1])
            else:
                wave["count"] = int(bound)
        except ValueError:
            raise ValueError(f"wave '{token}': a bound is N (boxes) or P% (of targets)") from None
    if not wave:
        raise ValueError(f"wave '{token}' is empty")
    return wave
