"""Canary analysis on counters parsed from real Prometheus exposition text."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram, generate_latest

from mlinfer.registry.analysis import AnalysisConfig, ArmCounters, judge, parse_counters

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
