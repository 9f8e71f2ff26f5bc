"""In-process token buckets, driven by a fake clock (no sleeps)."""

from __future__ import annotations

from mlinfer.ratelimit import BucketRef, LocalRateLimiter, Rate
from tests.support.clock import FakeClock


def _bucket(key: str, rps: float, burst: float | None = None, label: str = "client") -> BucketRef:
    return BucketRef(key, Rate(requests_per_second=rps, burst=burst), label)


def test_burst_then_deny_with_retry_after_then_refill(clock: FakeClock) -> None:
    limiter = LocalRateLimiter(clock=clock)
    bucket = [_bucket("c:alice", rps=2, burst=3)]
    assert [limiter.acquire(bucket).allowed for _ in range(3)] == [True, True, True]
    denied = limiter.acquire(bucket)
    assert (denied.allowed, denied.retry_after_s, denied.limit) == (False, 0.5, "client")
    clock.advance(0.3)
    assert limiter.acquire(bucket).retry_after_s == 0.2
    clock.advance(0.2)
    assert limiter.acquire(bucket).allowed
    assert not limiter.acquire(bucket).allowed


def test_refill_is_capped_at_burst(clock: FakeClock) -> None:
    limiter = LocalRateLimiter(clock=clock)
    bucket = [_bucket("c:alice", rps=10, burst=3)]
    for _ in range(3):
        limiter.acquire(bucket)
    clock.advance(3600)
    assert [limiter.acquire(bucket).allowed for _ in range(4)] == [True, True, True, False]


def test_default_burst_and_slow_rates(clock: FakeClock) -> None:
    assert Rate(requests_per_second=5).capacity == 5
    assert Rate(requests_per_second=0.5).capacity == 1
    limiter = LocalRateLimiter(clock=clock)
    bucket = [_bucket("c:slow", rps=0.5)]
    assert limiter.acquire(bucket).allowed
    assert limiter.acquire(bucket).retry_after_s == 2.0


def test_refused_request_takes_no_token_from_any_bucket(clock: FakeClock) -> None:
    limiter = LocalRateLimiter(clock=clock)
    client = _bucket("c:alice", rps=1, burst=5)
    model = _bucket("m:digits", rps=1, burst=1, label="model")
    assert limiter.acquire([client, model]).allowed
    refused = limiter.acquire([client, model])
    assert (refused.allowed, refused.limit) == (False, "model")
    # alice spent one token, not two: four are left for other models
    assert [limiter.acquire([client]).allowed for _ in range(5)] == [True] * 4 + [False]


def test_longest_wait_decides_retry_after(clock: FakeClock) -> None:
    limiter = LocalRateLimiter(clock=clock)
    fast = _bucket("c:a", rps=10, burst=1)
    slow = _bucket("m:b", rps=0.25, burst=1, label="model")
    limiter.acquire([fast, slow])
    refused = limiter.acquire([fast, slow])
    assert (refused.retry_after_s, refused.limit) == (4.0, "model")


def test_least_recently_used_buckets_are_evicted(clock: FakeClock) -> None:
    limiter = LocalRateLimiter(clock=clock, max_buckets=3)
    for name in "abcd":
        limiter.acquire([_bucket(name, rps=1)])
    assert len(limiter) == 3
    assert limiter.acquire([_bucket("a", rps=1)]).allowed  # evicted: starts full again
    assert not limiter.acquire([_bucket("d", rps=1)]).allowed
