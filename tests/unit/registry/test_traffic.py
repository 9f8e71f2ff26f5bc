"""The traffic router: weights, sticky keys, canary growth, validation."""

from __future__ import annotations

from collections import Counter

import pytest

from mlinfer.registry.traffic import PolicyError, TrafficPolicy, TrafficRouter, check_policy


def _shares(router: TrafficRouter, n: int, **kwargs: str) -> Counter[str]:
    return Counter(router.choose("m", {}, **kwargs) for _ in range(n))


def test_split_tracks_weights_within_three_points() -> None:
    router = TrafficRouter([TrafficPolicy("m", {"1": 90, "2": 10})])
    counts = _shares(router, 2000)
    assert set(counts) == {"1", "2"}
    assert abs(counts["2"] / 2000 - 0.10) <= 0.03
    three = TrafficRouter([TrafficPolicy("m", {"1": 50, "2": 30, "3": 20})])
    counts = _shares(three, 2000)
    for version, weight in (("1", 50), ("2", 30), ("3", 20)):
        assert abs(counts[version] / 2000 - weight / 100) <= 0.03


def test_no_policy_and_single_arm() -> None:
    router = TrafficRouter([TrafficPolicy("m", {"3": 100})])
    assert router.choose("other", {}) == ""
    assert router.choose("m", {}) == "3"
    assert TrafficRouter([TrafficPolicy("m", {"1": 100, "2": 0})]).choose("m", {}) == "1"


def test_sticky_header_keeps_its_arm_and_spreads_keys() -> None:
    policy = TrafficPolicy("m", {"1": 70, "2": 30}, sticky="header:X-Session-ID")
    router = TrafficRouter([policy])
    first = {k: router.choose("m", {"x-session-id": f"s{k}"}) for k in range(500)}
    for _ in range(3):
        again = {k: router.choose("m", {"x-session-id": f"s{k}"}) for k in range(500)}
        assert again == first  # the same key always lands on the same arm
    share = sum(v == "2" for v in first.values()) / 500
    assert 0.22 <= share <= 0.38  # keys hash across arms by weight
    # Without the header the request is spread like any other.
    assert set(_shares(router, 100)) == {"1", "2"}


def test_growing_canary_only_moves_keys_into_the_canary() -> None:
    keys = [f"user-{i}" for i in range(1000)]
    before = TrafficRouter([TrafficPolicy("m", {"1": 95, "2": 5}, sticky="identity")])
    after = TrafficRouter([TrafficPolicy("m", {"1": 75, "2": 25}, sticky="identity")])
    for key in keys:
        if before.choose("m", {}, key) == "2":
            assert after.choose("m", {}, key) == "2"


def test_identity_stickiness() -> None:
    router = TrafficRouter([TrafficPolicy("m", {"1": 50, "2": 50}, sticky="identity")])
    arms = {router.choose("m", {}, "alice") for _ in range(50)}
    assert len(arms) == 1


@pytest.mark.parametrize(
    ("arms", "sticky", "message"),
    [
        ({"1": 60, "2": 30}, None, "sum to 90"),
        ({"1": 50, "7": 50}, None, "unknown version"),
        ({}, None, "no arms"),
        ({"1": 100}, "cookie:x", "sticky must be"),
    ],
)
def test_invalid_policies(arms: dict[str, int], sticky: str | None, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        check_policy(TrafficPolicy("m", arms, sticky), [1, 2])


def test_from_json_rejects_bad_weights() -> None:
    with pytest.raises(PolicyError, match="integers"):
        TrafficPolicy.from_json("m", {"arms": {"1": 50.5, "2": 49.5}})
    with pytest.raises(PolicyError, match="integers"):
        TrafficPolicy.from_json("m", {"arms": {"1": True}})
