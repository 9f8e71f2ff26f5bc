"""Fleet plans: targets, waves by count / percent / selector, abort share, CLI wave syntax."""

from __future__ import annotations

from typing import Any

import pytest

from mlinfer.registry.errors import BadRequestError
from mlinfer.registry.fleet_waves import (
    FAILED,
    OBSERVING,
    PENDING,
    SUCCEEDED,
    FleetCriteria,
    check_waves,
    matches,
    must_abort,
    parse_wave_token,
    plan,
)

# 20 boxes: store-00..store-19, sites alternate north/south, every fifth one a lab Orin.
BOXES = [
    (f"store-{i:02d}", {"site": "north" if i % 2 else "south", "hw": "orin" if i % 5 else "x86"})
    for i in range(20)
]


def test_one_box_then_ten_percent_then_all() -> None:
    waves = plan(BOXES, {}, [{"count": 1}, {"percent": 10}, {"percent": 100}])
    assert waves == [["store-00"], ["store-01"], [f"store-{i:02d}" for i in range(2, 20)]]


def test_selector_targets_only_matching_boxes_and_percent_counts_targets() -> None:
    waves = plan(BOXES, {"site": "north"}, [{"percent": 50}])
    north = [n for n, labels in BOXES if labels["site"] == "north"]
    assert waves == [north[:5], north[5:]]  # 50 % of 10 targets, then the rest


def test_wave_selector_picks_boxes_by_label_first() -> None:
    waves = plan(BOXES, {}, [{"selector": {"hw": "x86"}, "count": 2}, {"selector": {"hw": "x86"}}])
    x86 = [n for n, labels in BOXES if labels["hw"] == "x86"]
    assert waves[0] == x86[:2] and waves[1] == x86[2:]
    assert sorted(waves[2]) == sorted(n for n, _ in BOXES if n not in x86)  # the rest


def test_empty_waves_are_dropped_and_nothing_is_left_behind() -> None:
    waves = plan(BOXES[:3], {}, [{"count": 1}, {"percent": 10}, {"count": 1}])
    assert waves == [["store-00"], ["store-01"], ["store-02"]]  # 10 % of 3 is already in
    assert plan(BOXES, {"site": "mars"}, [{"count": 1}]) == []


def test_matches_compares_label_values_as_strings() -> None:
    assert matches({"site": "a", "hw": "orin"}, {"site": "a"})
    assert not matches({"site": "a"}, {"site": "a", "hw": "orin"})
    assert matches({"rack": 3}, {"rack": "3"})


@pytest.mark.parametrize(
    ("waves", "message"),
    [
        ([], "non-empty list"),
        ([{"count": 0}], "count must be an integer >= 1"),
        ([{"count": True}], "count must be an integer"),
        ([{"percent": 120}], "percent must be in (0, 100]"),
        ([{"count": 1, "percent": 5}], "not both"),
        ([{"size": 3}], "count, percent and/or selector"),
        ([{"selector": {"site": 1}}], "label -> value strings"),
    ],
)
def test_bad_waves_name_the_problem(waves: Any, message: str) -> None:
    with pytest.raises(BadRequestError) as info:
        check_waves(waves)
    assert message in info.value.message


def test_abort_when_failed_share_exceeds_the_criteria() -> None:
    strict = FleetCriteria()
    assert must_abort(strict, [SUCCEEDED, SUCCEEDED, PENDING]) == ""
    assert "1 of 2 judged boxes failed" in must_abort(strict, [SUCCEEDED, FAILED, OBSERVING])
    tolerant = FleetCriteria(max_failed_percent=50)
    assert must_abort(tolerant, [SUCCEEDED, FAILED]) == ""  # 50 % is not above 50 %
    assert must_abort(tolerant, [SUCCEEDED, FAILED, FAILED]) != ""


def test_criteria_reject_unknown_and_out_of_range_fields() -> None:
    assert FleetCriteria.from_json({"soak_s": 5}).soak_s == 5
    for doc, message in (
        ({"soak": 5}, "unknown criteria field"),
        ({"soak_s": 0}, "soak_s must be > 0"),
        ({"max_failed_percent": 100}, "[0, 100)"),
        ({"max_holds": 0}, "max_holds"),
    ):
        with pytest.raises(BadRequestError) as info:
            FleetCriteria.from_json(doc)
        assert message in info.value.message


def test_cli_wave_tokens() -> None:
    assert parse_wave_token("1") == {"count": 1}
    assert parse_wave_token("10%") == {"percent": 10.0}
    assert parse_wave_token("site=lab") == {"selector": {"site": "lab"}}
    assert parse_wave_token("site=lab,hw=orin@50%") == {
        "selector": {"site": "lab", "hw": "orin"},
        "percent": 50.0,
    }
    for token in ("ten", "site=lab@x", "=lab"):
        with pytest.raises(ValueError):
            parse_wave_token(token)
