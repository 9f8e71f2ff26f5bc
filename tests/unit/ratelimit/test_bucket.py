"""Token bucket arithmetic on its own: waits, all-or-nothing decisions, one level per bucket."""

from __future__ import annotations

import pytest

from mlinfer.ratelimit.bucket import ALLOW, BucketRef, Decision, Rate, decide, wait_for_token


def test_no_wait_while_a_token_is_there() -> None:
    rate = Rate(requests_per_second=4.0)
    assert wait_for_token(1.0, rate) == 0.0
    assert wait_for_token(2.5, rate) == 0.0  # never a negative wait
    assert wait_for_token(0.5, rate) == pytest.approx(0.125)


def test_every_bucket_needs_its_level() -> None:
    buckets = [
        BucketRef("c", Rate(requests_per_second=1.0), "client"),
        BucketRef("m", Rate(requests_per_second=1.0), "model"),
    ]
    assert decide(buckets, [1.0, 1.0]) is ALLOW
    assert decide(buckets, [1.0, 0.0]) == Decision(False, retry_after_s=1.0, limit="model")
    # A level missing for the model bucket must not admit the request unchecked.
    with pytest.raises(ValueError):
        decide(buckets, [1.0])
