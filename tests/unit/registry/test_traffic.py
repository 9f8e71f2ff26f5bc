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


def test_unsticky_shares_match_the_weights_within_half_a_point() -> None:
    # The golden-ratio sequence is far more even than random draws: over 20,000 requests a
    # 50/50 split is within a few hundredths of a point, so a bound moved by one percent
    # (an arm of 49 instead of 50) shows.
    router = TrafficRouter([TrafficPolicy("m", {"1": 50, "2": 50})])
    counts = _shares(router, 20_000)
    assert abs(counts["1"] / 20_000 - 0.50) < 0.002
    three = TrafficRouter([TrafficPolicy("m", {"4": 10, "2": 30, "3": 60})])
    counts = _shares(three, 20_000)
    for version, weight in (("2", 30), ("3", 60), ("4", 10)):
        assert abs(counts[version] / 20_000 - weight / 100) < 0.002


def test_sticky_shares_follow_the_weights_and_the_last_arm_is_reached() -> None:
    # Key hashes spread over [0, 1): each arm, the last one too, gets about its weight.
    router = TrafficRouter([TrafficPolicy("m", {"1": 20, "2": 30, "3": 50}, "header:k")])
    counts = Counter(router.choose("m", {"k": f"key-{i}"}) for i in range(4000))
    for version, weight in (("1", 20), ("2", 30), ("3", 50)):
        assert abs(counts[version] / 4000 - weight / 100) <= 0.03


def test_sticky_without_its_key_spreads_like_an_unsticky_split() -> None:
    by_header = TrafficRouter([TrafficPolicy("m", {"1": 50, "2": 50}, "header:x-user")])
    assert set(_shares(by_header, 50)) == {"1", "2"}
    assert set(_shares(by_header, 50, subject="alice")) == {"1", "2"}  # identity is not the key
    by_identity = TrafficRouter([TrafficPolicy("m", {"1": 50, "2": 50}, "identity")])
    assert set(_shares(by_identity, 50)) == {"1", "2"}  # anonymous requests
    spread = Counter(by_identity.choose("m", {"x-user": "bob"}) for _ in range(50))
    assert set(spread) == {"1", "2"}  # a header is not the identity


def test_sticky_point_is_a_uniform_hash_of_model_and_key() -> None:
    from mlinfer.registry.traffic import sticky_point

    points = [sticky_point("m", f"k{i}") for i in range(2000)]
    assert all(0.0 <= p < 1.0 for p in points)
    assert 0.45 <= sum(points) / len(points) <= 0.55
    assert sticky_point("m", "k1") == sticky_point("m", "k1")
    assert sticky_point("m", "k1") != sticky_point("other", "k1")  # the model is hashed too


def test_a_policy_without_arms_routes_nothing_and_policies_are_kept() -> None:
    empty = TrafficPolicy("m", {})
    split = TrafficPolicy("n", {"1": 50, "2": 50}, "identity")
    router = TrafficRouter([empty, split])
    assert router.choose("m", {}) == ""
    assert router.policies == {"m": empty, "n": split}
    router.replace([TrafficPolicy("m", {"2": 100})])
    assert router.choose("m", {}) == "2" and router.choose("n", {}) == ""
    assert list(router.policies) == ["m"]


def test_zero_weight_arm_is_never_chosen() -> None:
    router = TrafficRouter([TrafficPolicy("m", {"1": 0, "2": 60, "3": 40}, "header:k")])
    unsticky = _shares(router, 500)
    sticky = Counter(router.choose("m", {"k": f"s{i}"}) for i in range(500))
    assert set(unsticky) == set(sticky) == {"2", "3"}


def test_valid_policies_pass_the_check() -> None:
    for sticky in (None, "identity", "header:X-Session-ID", "header:k"):
        check_policy(TrafficPolicy("m", {"1": 40, "2": 60}, sticky), [1, 2, 3])
    check_policy(TrafficPolicy("m", {"2": 100, "1": 0}), [1, 2])


@pytest.mark.parametrize(
    ("arms", "sticky", "message"),
    [
        ({"1": 50, "x": 50}, None, r"unknown version\(s\) \['x'\] \(known: \['1', '2', '10'\]\)"),
        ({"1": 50, "10": 51}, None, r"weights of 'm' sum to 101, not 100"),
        ({"1": 100}, "header:", "sticky must be 'identity' or 'header:<name>', got 'header:'"),
        ({"1": 100}, "Identity", "got 'Identity'"),
        ({}, None, "policy of 'm' has no arms"),
    ],
)
def test_policy_errors_name_the_problem(
    arms: dict[str, int], sticky: str | None, message: str
) -> None:
    with pytest.raises(PolicyError, match=message):
        check_policy(TrafficPolicy("m", arms, sticky), [10, 1, 2])


def test_from_json_round_trip_and_defaults() -> None:
    policy = TrafficPolicy("m", {"1": 70, "2": 30}, "header:k")
    assert policy.as_json() == {"arms": {"1": 70, "2": 30}, "sticky": "header:k"}
    again = TrafficPolicy.from_json("m", policy.as_json())
    assert again == policy
    loose = TrafficPolicy.from_json("m", {"arms": {1: 100, 2: 0}, "sticky": ""})
    assert loose.arms == {"1": 100, "2": 0} and loose.sticky is None  # a weight of 0 is fine
    assert TrafficPolicy.from_json("m", {"arms": {"1": 100}}).sticky is None


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({}, r"policy of 'm': 'arms' must be an object version -> weight"),
        ({"arms": [["1", 100]]}, "'arms' must be an object"),
        ({"arms": {"1": 100}, "sticky": 5}, r"policy of 'm': 'sticky' must be a string"),
        ({"arms": {"1": -1}}, r"policy of 'm': weights must be integers >= 0, got -1"),
        ({"arms": {"1": "50"}}, r"got '50'"),
        ({"arms": {"1": False}}, "got False"),
    ],
)
def test_from_json_errors(doc: dict[str, object], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        TrafficPolicy.from_json("m", doc)


def test_an_arm_of_one_percent_gets_its_share() -> None:
    router = TrafficRouter([TrafficPolicy("m", {"1": 99, "2": 1})])
    counts = _shares(router, 20_000)
    assert abs(counts["2"] / 20_000 - 0.01) < 0.002


def test_an_unsticky_split_ignores_the_identity() -> None:
    router = TrafficRouter([TrafficPolicy("m", {"1": 50, "2": 50})])
    assert set(_shares(router, 50, subject="alice")) == {"1", "2"}


def test_each_model_hashes_its_keys_on_its_own() -> None:
    # The same users must not land on every model's canary at once: the model is in the hash.
    policies = [TrafficPolicy(m, {"1": 50, "2": 50}, "identity") for m in ("a", "b")]
    router = TrafficRouter(policies)
    keys = [f"user-{i}" for i in range(200)]
    arms_a = [router.choose("a", {}, k) for k in keys]
    arms_b = [router.choose("b", {}, k) for k in keys]
    differ = sum(x != y for x, y in zip(arms_a, arms_b, strict=True))
    assert 50 <= differ <= 150  # independent 50/50 assignments differ for about half the keys
