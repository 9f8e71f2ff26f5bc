"""Token bucket arithmetic shared by the in-process limiter (and mirrored by the Lua script).

A bucket holds up to ``burst`` tokens and gains ``requests_per_second`` tokens a second; a
request takes one. A request that needs several buckets (client, model) is admitted only
when *every* bucket has a token, and then takes one from each; a refused request takes
nothing, so being refused by the model limit does not also drain the client's budget.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field


class Rate(BaseModel):
    """A limit: sustained ``requests_per_second``; ``burst`` = bucket size (default max(1, rps))."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requests_per_second: float = Field(gt=0, description="Sustained requests per second.")
    burst: float | None = Field(
        default=None,
        ge=1,
        description="Requests allowed at once; default max(1, requests_per_second).",
    )

    @property
    def capacity(self) -> float:
        return self.burst if self.burst is not None else max(1.0, self.requests_per_second)

    @property
    def refill_seconds(self) -> float:
        """Time an empty bucket takes to fill (how long its state is worth keeping)."""
        return self.capacity / self.requests_per_second


@dataclass(frozen=True)
class BucketRef:
    """One bucket a request needs: its key, its rate, and a label for messages."""

    key: str
    rate: Rate
    label: str


@dataclass(frozen=True)
class Decision:
    """Admit or refuse; a refusal says how long until every needed bucket has a token."""

    allowed: bool
    retry_after_s: float = 0.0
    limit: str | None = None  # label of the bucket that refused (longest wait)


ALLOW = Decision(True)


def refill(tokens: float, updated_at: float, now: float, rate: Rate) -> float:
    """Tokens in a bucket at ``now`` that held ``tokens`` at ``updated_at``."""
    elapsed = max(0.0, now - updated_at)
    return min(rate.capacity, tokens + elapsed * rate.requests_per_second)


def wait_for_token(tokens: float, rate: Rate) -> float:
    """Seconds until a bucket holding ``tokens`` holds one (0 if it already does)."""
    missing = 1.0 - tokens
    return 0.0 if missing <= 0 else missing / rate.requests_per_second


def decide(buckets: Sequence[BucketRef], levels: Sequence[float]) -> Decision:
    """All-or-nothing decision for ``buckets`` currently holding ``levels`` tokens."""
    worst = 0.0
    label: str | None = None
    for bucket, tokens in zip(buckets, levels, strict=True):
        wait = wait_for_token(tokens, bucket.rate)
        if wait > worst:
            worst, label = wait, bucket.label
    if label is None:
        return ALLOW
    return Decision(False, retry_after_s=round_up_ms(worst), limit=label)


def round_up_ms(seconds: float) -> float:
    """Whole milliseconds, rounded up, so a client that waits exactly this long succeeds."""
    return math.ceil(seconds * 1000.0 - 1e-6) / 1000.0
