"""Traffic routing for requests that name no version: pure, no I/O, cheap per request.

A policy maps versions to integer weights summing to 100. Each request gets a point in
[0, 1) and takes the arm whose cumulative range holds it:

- sticky (``header:<name>`` or ``identity``): the point is a hash of the model and the key,
  so a key keeps its arm while the weights stay; when a canary grows, keys only move
  from the baseline into the canary (arms are laid out oldest version first).
- otherwise: the n-th request takes the fractional part of n * golden ratio, a
  low-discrepancy sequence, so observed shares track the weights closely even over a few
  hundred requests, without a lock or a random number generator.

A request that names a version never reaches this module.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import count
from typing import Any

_GOLDEN = 0.6180339887498949
_HASH_SCALE = float(2**64)
IDENTITY = "identity"
HEADER_PREFIX = "header:"


class PolicyError(ValueError):
    """A weight table that cannot be applied (the registry answers it with 400)."""


@dataclass(frozen=True)
class TrafficPolicy:
    model: str
    arms: Mapping[str, int]  # version -> weight, summing to 100
    sticky: str | None = None  # "header:<name>" | "identity" | None

    def as_json(self) -> dict[str, Any]:
        return {"arms": dict(self.arms), "sticky": self.sticky}

    @classmethod
    def from_json(cls, model: str, doc: Mapping[str, Any]) -> TrafficPolicy:
        arms = doc.get("arms")
        if not isinstance(arms, Mapping):
            raise PolicyError(f"policy of '{model}': 'arms' must be an object version -> weight")
        sticky = doc.get("sticky")
        if sticky is not None and not isinstance(sticky, str):
            raise PolicyError(f"policy of '{model}': 'sticky' must be a string")
        return cls(model, {str(k): _weight(model, v) for k, v in arms.items()}, sticky or None)


def _weight(model: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PolicyError(f"policy of '{model}': weights must be integers >= 0, got {value!r}")
    return value


def check_policy(policy: TrafficPolicy, known_versions: Iterable[int]) -> None:
    """Weights sum to 100, every arm names a known version, sticky is a known kind."""
    known = {str(v) for v in known_versions}
    if not policy.arms:
        raise PolicyError(f"policy of '{policy.model}' has no arms")
    bad = sorted(v for v in policy.arms if not v.isdigit() or v not in known)
    if bad:
        raise PolicyError(
            f"policy of '{policy.model}' names unknown version(s) {bad} "
            f"(known: {sorted(known, key=int)})"
        )
    total = sum(policy.arms.values())
    if total != 100:
        raise PolicyError(
            f"weights of '{policy.model}' sum to {total}, not 100: {dict(policy.arms)}"
        )
    sticky = policy.sticky
    if (
        sticky is not None
        and sticky != IDENTITY
        and not (sticky.startswith(HEADER_PREFIX) and len(sticky) > len(HEADER_PREFIX))
    ):
        raise PolicyError(f"sticky must be 'identity' or 'header:<name>', got '{sticky}'")


@dataclass
class _Compiled:
    versions: list[str]
    bounds: list[float]  # cumulative upper bounds in (0, 1]
    single: str | None  # the one arm with all the traffic, if so
    header: str | None
    by_identity: bool
    seq: Iterable[int] = field(default_factory=count)

    def pick(self, point: float) -> str:
        index = bisect_right(self.bounds, point)
        return self.versions[min(index, len(self.versions) - 1)]


def _compile(policy: TrafficPolicy) -> _Compiled:
    arms = sorted(((int(v), w) for v, w in policy.arms.items() if w > 0))
    versions = [str(v) for v, _ in arms]
    bounds, total = [], 0
    for _, weight in arms:
        total += weight
        bounds.append(total / 100)
    sticky = policy.sticky or ""
    return _Compiled(
        versions,
        bounds,
        versions[0] if len(versions) == 1 else None,
        sticky[len(HEADER_PREFIX) :].lower() if sticky.startswith(HEADER_PREFIX) else None,
        sticky == IDENTITY,
        count(1),
    )


def sticky_point(model: str, key: str) -> float:
    digest = hashlib.blake2b(f"{model}\0{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _HASH_SCALE


class TrafficRouter:
    """The policies a DataPlane routes by; replaced whole when the registry publishes."""

    def __init__(self, policies: Iterable[TrafficPolicy] = ()) -> None:
        self._compiled: dict[str, _Compiled] = {}
        self._policies: dict[str, TrafficPolicy] = {}
        self.replace(policies)

    def replace(self, policies: Iterable[TrafficPolicy]) -> None:
        fresh = {p.model: p for p in policies}
        compiled = {name: _compile(p) for name, p in fresh.items() if p.arms}
        self._policies, self._compiled = fresh, compiled  # one assignment each: atomic swap

    @property
    def policies(self) -> dict[str, TrafficPolicy]:
        return dict(self._policies)

    def choose(self, model: str, headers: Mapping[str, str], subject: str = "") -> str:
        """The version to serve ``model`` from, or "" when no policy covers it."""
        compiled = self._compiled.get(model)
        if compiled is None:
            return ""
        if compiled.single is not None:
            return compiled.single
        key = ""
        if compiled.header is not None:
            key = headers.get(compiled.header, "")
        elif compiled.by_identity:
            key = subject
        if key:
            return compiled.pick(sticky_point(model, key))
        n = next(compiled.seq)  # type: ignore[call-overload]
        return compiled.pick((n * _GOLDEN) % 1.0)
