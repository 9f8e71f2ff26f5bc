"""Canary analysis on counters parsed from real Prometheus exposition text."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from mlinfer.registry.analysis import (
    AnalysisConfig,
    ArmCounters,
    Verdict,
    judge,
    parse_counters,
)

BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0)


def _text(observations: dict[tuple[str, str], list[float]]) -> str:
    registry = CollectorRegistry()
    h = Histogram(
        "mlinfer_model_request_duration_seconds",
        "x",
        ["model", "version", "outcome"],
        buckets=BUCKETS,
        registry=registry,
    )
    for (version, outcome), values in observations.items():
        for value in values:
            h.labels("m", version, outcome).observe(value)
    return generate_latest(registry).decode()


def _arms(observations: dict[tuple[str, str], list[float]]) -> dict[str, ArmCounters]:
    return parse_counters([_text(observations)], "m")


def test_counts_and_quantiles_from_exposition() -> None:
    arms = _arms({("1", "success"): [0.002] * 99 + [0.2], ("1", "client_error"): [0.001] * 5})
    summary = arms["1"].summary()
    assert summary["requests"] == 100 and summary["client_errors"] == 5
    assert summary["errors"] == 0 and summary["success_rate"] == 100.0
    assert 1.0 <= summary["p50_ms"] <= 5.0
    assert summary["p99_ms"] <= 5.0 < arms["1"].quantile_ms(0.999)


def test_hold_without_enough_traffic() -> None:
    arms = _arms({("1", "success"): [0.002] * 50, ("2", "success"): [0.002] * 3})
    verdict = judge(AnalysisConfig(min_requests=20), arms["1"], arms["2"], 95)
    assert verdict.result == "hold" and "too few" in verdict.reason
    assert judge(AnalysisConfig(), ArmCounters(), ArmCounters(), 50).result == "hold"


def test_failures_and_latency_fire_with_values() -> None:
    base = {("1", "success"): [0.002] * 100}
    failing = _arms({**base, ("2", "success"): [0.002] * 90, ("2", "failure"): [0.002] * 10})
    verdict = judge(AnalysisConfig(), failing["1"], failing["2"], 50)
    assert verdict.result == "fail" and "success rate 90.0% < 99.0%" in verdict.reason
    slow = _arms({**base, ("2", "success"): [0.3] * 100})
    verdict = judge(AnalysisConfig(max_p99_factor=2.0), slow["1"], slow["2"], 50)
    assert verdict.result == "fail" and "baseline p99" in verdict.reason
    bounded = judge(AnalysisConfig(max_p99_ms=50, max_p99_factor=None), slow["1"], slow["2"], 50)
    assert bounded.result == "fail" and "> bound 50" in bounded.reason


def test_client_errors_do_not_count_against_the_canary() -> None:
    arms = _arms({("1", "success"): [0.002] * 100, ("2", "success"): [0.002] * 100,
                  ("2", "client_error"): [0.001] * 50})  # fmt: skip
    assert judge(AnalysisConfig(), arms["1"], arms["2"], 50).result == "pass"


def test_deltas_since_step_start_and_counter_reset() -> None:
    early = _arms({("2", "success"): [0.002] * 10})["2"]
    late = _arms({("2", "success"): [0.002] * 30, ("2", "failure"): [0.002] * 5})["2"]
    delta = late.minus(early)
    assert delta.summary()["requests"] == 25 and delta.summary()["errors"] == 5
    restarted = _arms({("2", "success"): [0.002] * 4})["2"]
    assert restarted.minus(late).summary()["requests"] == 4
    again = ArmCounters.from_json(late.as_json())
    assert again.summary() == late.summary()


def test_analysis_config_validation() -> None:
    import pytest

    with pytest.raises(ValueError, match="unknown analysis field"):
        AnalysisConfig.from_json({"treshold": 2})
    with pytest.raises(ValueError, match="percentage"):
        AnalysisConfig.from_json({"min_success_rate": 150})


def test_flagger_defaults() -> None:
    # The thresholds users know from Flagger: 99 % success, two failed checks, 20 requests.
    config = AnalysisConfig()
    assert (config.min_requests, config.min_success_rate, config.threshold) == (20, 99.0, 2)
    assert (config.max_p99_ms, config.max_p95_ms, config.max_p99_factor) == (None, None, 1.5)
    assert config.p99_slack_ms == 1.0
    assert AnalysisConfig.from_json(config.as_json()) == config
    assert config.as_json() == {
        "min_requests": 20, "min_success_rate": 99.0, "max_p99_ms": None,
        "max_p99_factor": 1.5, "max_p95_ms": None, "p99_slack_ms": 1.0, "threshold": 2,
    }  # fmt: skip


def test_analysis_config_bounds() -> None:
    import pytest

    edge = AnalysisConfig.from_json({"min_requests": 1, "threshold": 1, "min_success_rate": 100})
    assert (edge.min_requests, edge.threshold, edge.min_success_rate) == (1, 1, 100)
    for doc in ({"min_requests": 0}, {"threshold": 0}):
        with pytest.raises(ValueError, match="min_requests and threshold must be >= 1"):
            AnalysisConfig.from_json(doc)
    with pytest.raises(ValueError, match=r"min_success_rate is a percentage in \(0, 100\]"):
        AnalysisConfig.from_json({"min_success_rate": 0})
    with pytest.raises(ValueError, match=r"unknown analysis field\(s\) \['x'\]; known: \["):
        AnalysisConfig.from_json({"x": 1, "threshold": 3})


def test_quantiles_interpolate_like_histogram_quantile() -> None:
    # 50 at <= 1 ms, none in (1, 5], 50 in (5, 10]: the median is the 1 ms bound, not 5.
    arms = _arms({("1", "success"): [0.0008] * 50 + [0.008] * 50})
    assert arms["1"].quantile_ms(0.5) == 1.0
    # rank 75 lies halfway through the (5, 10] ms bucket
    assert arms["1"].quantile_ms(0.75) == 7.5
    summary = arms["1"].summary()
    assert summary["p95_ms"] == 9.5 and summary["p99_ms"] == 9.9
    # Ranks in the +Inf bucket report the highest finite bound (1 s here), as Prometheus does.
    slow = _arms({("1", "success"): [0.0008] * 90 + [3.0] * 10})["1"]
    assert slow.quantile_ms(0.99) == 1000.0 and slow.quantile_ms(0.5) == 0.5 / 0.9
    # Rounded to the microsecond in summaries.
    odd = _arms({("1", "success"): [0.0008] * 3})["1"].summary()
    assert odd["p50_ms"] == 0.5 and odd["p99_ms"] == 0.99


def test_quantiles_of_empty_and_hand_made_counters() -> None:
    empty = ArmCounters()
    assert empty.summary() == {
        "requests": 0, "errors": 0, "client_errors": 0, "success_rate": 100.0,
        "p50_ms": 0.0, "p95_ms": 0.0, "p99_ms": 0.0, "classes": {},
    }  # fmt: skip
    # No requests since the step began: every bucket's delta is 0, and so is every quantile.
    before = _arms({("2", "success"): [0.003] * 10})["2"]
    assert before.minus(before).summary()["p50_ms"] == 0.0
    assert ArmCounters({"success": 10.0}).quantile_ms(0.5) == 0.0  # counts but no buckets
    # Buckets without +Inf (counters written by hand): past the last bound, that bound.
    partial = ArmCounters({"success": 10.0}, {0.001: 2.0, 0.002: 5.0})
    assert partial.quantile_ms(0.99) == 2.0
    assert ArmCounters({"success": 2.0, "failure": 1.0}).success_rate() == 200 / 3
    assert ArmCounters({"success": 2.0, "failure": 1.0}).summary()["success_rate"] == 66.667


def test_deltas_keep_an_outcome_that_did_not_move() -> None:
    early = _arms({("2", "success"): [0.002] * 10, ("2", "failure"): [0.002] * 3})["2"]
    late = _arms({("2", "success"): [0.002] * 40, ("2", "failure"): [0.002] * 3})["2"]
    delta = late.minus(early)
    assert delta.outcomes == {"success": 30.0, "failure": 0.0}
    assert delta.buckets[0.005] == 30.0 and delta.buckets[0.001] == 0.0


def test_parse_sums_gateways_and_skips_other_metrics_and_models() -> None:
    registry = CollectorRegistry()
    other = Histogram("aaa_seconds", "x", ["model", "version", "outcome"], registry=registry)
    other.labels("m", "1", "success").observe(0.1)
    h = Histogram(
        "mlinfer_model_request_duration_seconds", "x", ["model", "version", "outcome"],
        buckets=BUCKETS, registry=registry,
    )  # fmt: skip
    h.labels("a-model-first", "1", "success").observe(0.5)
    for _ in range(3):
        h.labels("m", "1", "success").observe(0.002)
    h.labels("m", "1", "failure").observe(0.02)
    text = generate_latest(registry).decode()
    arms = parse_counters([text, text], "m")
    assert list(arms) == ["1"]
    assert arms["1"].outcomes == {"success": 6.0, "failure": 2.0}
    assert arms["1"].buckets[0.005] == 6.0 and arms["1"].buckets[0.05] == 8.0
    assert arms["1"].buckets[float("inf")] == 8.0
    assert parse_counters([text], "nothing") == {}


def test_parse_reads_samples_without_version_or_outcome_labels() -> None:
    text = (
        "# TYPE mlinfer_model_request_duration_seconds histogram\n"
        'mlinfer_model_request_duration_seconds_bucket{model="m",le="+Inf"} 4\n'
        'mlinfer_model_request_duration_seconds_count{model="m"} 4\n'
    )
    arms = parse_counters([text], "m")
    assert list(arms) == [""] and arms[""].outcomes == {"": 4.0}
    assert arms[""].buckets == {}  # an unlabelled outcome is neither success nor failure


def test_client_errors_stay_out_of_the_latency_quantiles() -> None:
    arms = _arms({("1", "success"): [0.002] * 100, ("1", "client_error"): [0.9] * 100})
    assert arms["1"].summary()["p99_ms"] <= 5.0


def _judge(canary: dict[str, list[float]], baseline: list[float] | None = None,
           weight: int = 50, **config: object) -> Verdict:  # fmt: skip
    observations = {("2", outcome): values for outcome, values in canary.items()}
    if baseline is not None:
        observations[("1", "success")] = baseline
    arms = _arms(observations)
    return judge(
        AnalysisConfig(**config),  # type: ignore[arg-type]
        arms.get("1", ArmCounters()),
        arms["2"],
        weight,
    )


def test_minimum_requests_on_each_arm_exactly() -> None:
    fast = [0.002] * 20
    verdict = _judge({"success": fast}, fast)
    assert verdict.result == "pass" and verdict.reason == "within bounds"
    short = _judge({"success": fast[:19]}, fast)
    assert short.reason == ("too few requests to judge (canary 19, baseline 20, need 20 each)")
    assert _judge({"success": fast}, fast[:19]).result == "hold"


def test_baseline_traffic_is_needed_only_to_compare_with_it() -> None:
    fast = [0.002] * 30
    # At 100 % (baseline weight 0) the canary is judged on bounds alone.
    assert _judge({"success": fast}, None, weight=0).result == "pass"
    # No baseline factor: nothing to compare with, so no baseline traffic needed either.
    alone = _judge({"success": fast}, None, weight=50, max_p99_factor=None)
    assert alone.result == "pass"
    assert _judge({"success": fast}, None, weight=50).result == "hold"
    # Bounds still apply at 100 %.
    slow = _judge({"success": [0.3] * 30}, None, weight=0, max_p99_ms=100)
    assert slow.result == "fail"


def test_success_rate_at_the_threshold_passes() -> None:
    ok = _judge({"success": [0.002] * 99, "failure": [0.002]}, [0.002] * 100)
    assert ok.result == "pass"
    low = _judge({"success": [0.002] * 98, "failure": [0.002] * 2}, [0.002] * 100)
    assert low.reason == "success rate 98.0% < 99.0% (2 of 100 failed)"


def test_latency_bounds_at_and_over_the_limit() -> None:
    values = [0.0008] * 50 + [0.008] * 50  # p95 9.5 ms, p99 9.9 ms
    base = [0.0008] * 50 + [0.008] * 50
    at = _judge({"success": values}, base, max_p99_ms=9.9, max_p95_ms=9.5)
    assert at.result == "pass"
    over = _judge({"success": values}, base, max_p99_ms=9.8, max_p95_ms=9.4)
    assert over.result == "fail"
    assert over.reason == ("p99 9.9 ms > bound 9.8 ms; p95 9.5 ms > bound 9.4 ms")


def test_baseline_factor_with_its_noise_allowance() -> None:
    base = [0.0008] * 50 + [0.008] * 50  # p99 9.9 ms
    # 1.5 x 9.9 = 14.85 ms: a canary at p99 14.85 ms is at the limit and passes.
    twice = [0.0008] * 50 + [0.008] * 25 + [0.012] * 25  # p99 in (10, 25] bucket
    verdict = _judge({"success": twice}, base)
    canary_p99 = verdict.canary["p99_ms"]
    assert canary_p99 > 14.85
    assert verdict.result == "fail"
    assert verdict.reason == (f"p99 {canary_p99} ms > baseline p99 9.9 ms x 1.5 = 14.85 ms")
    loose = _judge({"success": twice}, base, max_p99_factor=canary_p99 / 9.9)
    assert loose.result == "pass"
    # Within the slack of the baseline: passes whatever the factor.
    fast = [0.0008] * 100  # p99 0.99 ms
    near = [0.0008] * 988 + [0.0012] * 12  # p99 1.667 ms: over 1.5 x 0.99, within 1 ms
    assert _judge({"success": near}, fast).canary["p99_ms"] == 1.667
    assert _judge({"success": near}, fast).result == "pass"
    assert _judge({"success": near}, fast, p99_slack_ms=0.0).result == "fail"


def test_failures_are_joined_and_the_verdict_serializes() -> None:
    verdict = _judge({"success": [0.3] * 90, "failure": [0.3] * 10}, [0.002] * 100, max_p99_ms=100)
    reasons = verdict.reason.split("; ")
    assert [r.split(" ")[0] for r in reasons] == ["success", "p99", "p99"]
    doc = verdict.as_json()
    assert doc == {
        "result": "fail", "reason": verdict.reason,
        "baseline": verdict.baseline, "canary": verdict.canary,
    }  # fmt: skip
    assert doc["canary"]["errors"] == 10 and doc["baseline"]["requests"] == 100


def _with_predictions(classes: dict[tuple[str, str], int], model: str = "m") -> str:
    registry = CollectorRegistry()
    counter = Counter(
        "mlinfer_model_predictions", "x", ["model", "version", "class"], registry=registry
    )
    for (version, name), n in classes.items():
        counter.labels(model, version, name).inc(n)
    return generate_latest(registry).decode()


def test_class_distribution_per_arm_since_the_split_began() -> None:
    latency = _text({("1", "success"): [0.002] * 5, ("2", "success"): [0.002] * 5})
    early = parse_counters([latency, _with_predictions({("1", "cat"): 2})], "m")
    texts = [
        latency,
        _with_predictions({("1", "cat"): 7, ("1", "dog"): 3, ("2", "bird"): 4}),
        _with_predictions({("2", "bird"): 1, ("2", "a:b"): 9}),  # a second gateway
        _with_predictions({("2", "bird"): 50}, model="other"),
    ]
    now = parse_counters(texts, "m")
    assert now["1"].classes == {"cat": 7.0, "dog": 3.0}
    assert now["2"].classes == {"bird": 5.0, "a:b": 9.0}
    assert now["1"].minus(early["1"]).summary()["classes"] == {"cat": 5, "dog": 3}
    # most frequent first, ties by name; classes not predicted since the start are left out
    assert list(now["2"].summary()["classes"].items()) == [("a:b", 9), ("bird", 5)]
    tied = ArmCounters(classes={"b": 2.0, "a": 2.0, "c": 0.0}).summary()["classes"]
    assert list(tied.items()) == [("a", 2), ("b", 2)]
    # Saved with the step's snapshot and read back (rows saved before classes have none).
    assert ArmCounters.from_json(now["2"].as_json()).classes == now["2"].classes
    assert ArmCounters.from_json({"outcomes": {"success": 1}}).classes == {}
    # The latency numbers are unchanged by the class counts.
    assert now["1"].summary()["requests"] == 5


def test_prediction_samples_other_than_totals_are_ignored() -> None:
    text = (
        "# TYPE mlinfer_model_predictions_total counter\n"
        'mlinfer_model_predictions_total{model="m",version="1",class="cat"} 3\n'
        'mlinfer_model_predictions_total{model="m",version="1"} 2\n'
        "# TYPE mlinfer_model_predictions_created gauge\n"
        'mlinfer_model_predictions_created{model="m",version="1",class="cat"} 1.7e9\n'
    )
    arms = parse_counters([text], "m")
    assert arms["1"].classes == {"cat": 3.0, "": 2.0}
    assert arms["1"].outcomes == {} and arms["1"].buckets == {}


def test_verdicts_carry_both_arms_whatever_the_result() -> None:
    fast = [0.002] * 20
    held = _judge({"success": fast[:5]}, fast)
    assert held.result == "hold"
    assert held.canary["requests"] == 5 and held.baseline["requests"] == 20
    passed = _judge({"success": fast}, fast)
    assert passed.result == "pass" and passed.baseline["requests"] == 20
    assert passed.canary["requests"] == 20


def test_a_baseline_of_one_percent_still_needs_its_traffic() -> None:
    assert _judge({"success": [0.002] * 30}, None, weight=1).result == "hold"


def test_slack_is_a_strict_allowance_and_the_limit_is_rounded_in_the_message() -> None:
    base = [0.0008] * 50 + [0.008] * 50  # p99 9.9 ms
    slower = [0.0008] * 50 + [0.008] * 25 + [0.012] * 25
    verdict = _judge({"success": slower}, base)
    excess = verdict.canary["p99_ms"] - verdict.baseline["p99_ms"]
    exactly = _judge({"success": slower}, base, p99_slack_ms=excess)
    assert exactly.result == "pass"  # a canary exactly the slack slower is within it
    odd = _judge({"success": slower}, base, max_p99_factor=1.2345)
    assert odd.reason.endswith("x 1.2345 = 12.222 ms")  # 9.9 x 1.2345 = 12.22155


def test_config_errors_say_exactly_what_is_wrong() -> None:
    import pytest

    for doc, message in (
        ({"threshold": 0}, "min_requests and threshold must be >= 1"),
        ({"min_success_rate": 100.5}, "min_success_rate is a percentage in (0, 100]"),
        ({"min_success_rate": -1}, "min_success_rate is a percentage in (0, 100]"),
    ):
        with pytest.raises(ValueError) as info:
            AnalysisConfig.from_json(doc)
        assert str(info.value) == message
    assert AnalysisConfig.from_json({"min_success_rate": 0.5}).min_success_rate == 0.5


def test_counters_with_missing_parts() -> None:
    assert ArmCounters.from_json({}) == ArmCounters()
    late = _arms({("2", "success"): [0.002] * 30, ("2", "failure"): [0.002] * 5})["2"]
    assert late.minus(ArmCounters()) == late  # nothing earlier: everything is new
    only_failures = ArmCounters({"failure": 4.0})
    assert only_failures.success_rate() == 0.0
    # An outcome that is 0 now and absent before is no counter reset.
    earlier = ArmCounters({"success": 10.0})
    now = ArmCounters({"success": 30.0, "failure": 0.0})
    assert now.minus(earlier).outcomes == {"success": 20.0, "failure": 0.0}


def test_summaries_round_to_the_microsecond() -> None:
    arm = _arms({("1", "success"): [0.0008] + [0.002] * 6})["1"]
    summary = arm.summary()
    assert (summary["p50_ms"], summary["p95_ms"]) == (2.667, 4.767)


def test_classes_are_ordered_by_count_and_single_predictions_kept() -> None:
    arm = ArmCounters(classes={"a": 1.0, "b": 5.0, "c": 3.0})
    assert list(arm.summary()["classes"].items()) == [("b", 5), ("c", 3), ("a", 1)]
