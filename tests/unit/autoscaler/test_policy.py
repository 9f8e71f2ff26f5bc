"""The scaling policy on recorded signal series, under a clock that moves only when told."""

from __future__ import annotations

import dataclasses

import pytest

from mlinfer.autoscaler.policy import DOWN, HOLD, UP, PolicyConfig, ScalingPolicy, Signals
from tests.support.clock import FakeClock

MODEL = "image_cnn"
BUSY = Signals(pending=8, queue_us_per_request=50_000, request_rate=200, utilization=0.9)
IDLE = Signals(pending=0, queue_us_per_request=100, request_rate=1, utilization=0.05)
QUIET = Signals(pending=0, queue_us_per_request=None, request_rate=0, utilization=0.0)


def policy(**overrides: object) -> ScalingPolicy:
    return ScalingPolicy({MODEL: dataclasses.replace(PolicyConfig(), **overrides)}, PolicyConfig())


class Replay:
    """Feeds a series sample by sample and applies each decision, as the service does."""

    def __init__(self, scaler: ScalingPolicy, current: int = 1) -> None:
        self.scaler = scaler
        self.clock = FakeClock()
        self.current = current
        self.log: list[tuple[float, int, str]] = []  # (elapsed s, count after, reason)
        self._start = self.clock()

    def run(self, signals: Signals, seconds: float, step: float = 5.0) -> None:
        end = self.clock() + seconds
        while self.clock() < end:
            d = self.scaler.decide(MODEL, self.current, signals, self.clock())
            self.current = d.desired
            self.log.append((self.clock() - self._start, d.desired, d.reason))
            self.clock.advance(step)

    def changes(self) -> list[tuple[float, int, str]]:
        out, last = [], None
        for t, count, reason in self.log:
            if count != last and last is not None:
                out.append((t, count, reason))
            last = count
        return out


def test_spec_defaults() -> None:
    cfg = PolicyConfig()
    assert (cfg.min_instances, cfg.max_instances) == (1, 4)
    assert (cfg.scale_up_utilization, cfg.scale_down_utilization) == (0.75, 0.30)
    assert (cfg.cooldown_up_s, cfg.cooldown_down_s, cfg.thermal_limit_c) == (60, 300, 75)


def test_load_step_rises_one_per_up_cooldown_then_falls_one_per_down_cooldown() -> None:
    # The c=1 -> c=32 -> c=1 step as the service samples it every 5 s.
    r = Replay(policy())
    r.run(IDLE, 30)
    r.run(BUSY, 300)
    r.run(IDLE, 1500)
    assert [(t, n) for t, n, _ in r.changes()] == [
        (30, 2), (90, 3), (150, 4),  # one instance per 60 s up-cooldown, capped at max 4
        (450, 3), (750, 2), (1050, 1),  # quiet for 60 s, and 300 s since the last change
    ]  # fmt: skip
    # The step itself (0 -> 8 pending within seconds) is a panic; the rest follows the window.
    assert [reason for _, _, reason in r.changes()] == ["panic"] + ["utilization"] * 2 + [
        "idle"
    ] * 3
    holds = {reason for _, _, reason in r.log}
    assert {"cooldown_up", "at_max", "cooldown_down", "at_min"} <= holds


def test_queue_time_alone_scales_up_when_no_utilization_is_known() -> None:
    r = Replay(policy())
    queued = Signals(pending=3, queue_us_per_request=40_000, request_rate=50)
    r.run(queued, 5)
    assert r.changes() == [] and r.current == 2
    assert r.log[0][2] == "queue_time"


def test_queue_time_under_target_and_moderate_use_hold_steady() -> None:
    r = Replay(policy(), current=2)
    r.run(Signals(pending=1, queue_us_per_request=5_000, utilization=0.5), 600)
    assert r.current == 2
    assert {reason for _, _, reason in r.log} == {"steady"}


def test_a_short_spike_is_averaged_away_by_the_stable_window() -> None:
    r = Replay(policy(panic_min_pending=100), current=1)
    r.run(Signals(pending=1, utilization=0.5), 60)
    r.run(Signals(pending=1, utilization=1.0), 5)  # one hot sample in a calm minute
    assert r.current == 1


def test_panic_doubles_at_once_when_the_queue_doubles_within_the_panic_window() -> None:
    r = Replay(policy(panic_window_s=6), current=2)
    r.run(Signals(pending=4, queue_us_per_request=1_000, utilization=0.4), 30)
    r.run(Signals(pending=12, queue_us_per_request=1_000, utilization=0.4), 5)
    assert r.log[-1][1:] == (4, "panic")


def test_panic_still_waits_for_the_up_cooldown() -> None:
    scaler = policy(panic_window_s=6)
    clock = FakeClock()
    assert scaler.decide(MODEL, 1, BUSY, clock()).desired == 2
    clock.advance(5)
    scaler.decide(MODEL, 2, Signals(pending=4), clock())
    clock.advance(5)
    held = scaler.decide(MODEL, 2, Signals(pending=40), clock())
    assert (held.desired, held.direction, held.reason) == (2, HOLD, "cooldown_up")


@pytest.mark.parametrize(
    "busy_sample",
    [
        dataclasses.replace(IDLE, pending=4),  # more requests than instances: some wait
        dataclasses.replace(IDLE, queue_us_per_request=15_000),  # queueing near the target
    ],
)
def test_no_scale_down_while_the_queue_was_not_empty_in_the_window(busy_sample: Signals) -> None:
    r = Replay(policy(cooldown_down_s=0), current=3)
    r.run(busy_sample, 5)
    r.run(IDLE, 55)  # the busy sample is still inside the 60 s window
    assert r.current == 3
    r.run(IDLE, 10)
    assert r.current == 2


def test_no_scale_down_that_would_push_the_rest_over_the_up_threshold() -> None:
    r = Replay(policy(cooldown_down_s=0, scale_down_utilization=0.6), current=2)
    r.run(Signals(pending=0, utilization=0.5), 300)  # 0.5 * 2 / 1 = 1.0 > 0.75
    assert r.current == 2


def test_thermal_guard_holds_scale_up_at_75_c() -> None:
    d = policy().decide(MODEL, 1, dataclasses.replace(BUSY, temperature_c=75.0), 0.0)
    assert (d.desired, d.direction, d.reason) == (1, HOLD, "thermal_guard")
    cooler = policy().decide(MODEL, 1, dataclasses.replace(BUSY, temperature_c=74.9), 0.0)
    assert cooler.direction == UP


def test_throttle_sheds_an_instance_per_up_cooldown_down_to_min() -> None:
    r = Replay(policy(), current=3)
    r.run(dataclasses.replace(BUSY, throttled=True), 180)
    assert [(t, n, why) for t, n, why in r.changes()] == [(60, 1, "throttle")]
    assert r.log[0][1:] == (2, "throttle")
    assert r.log[-1][1:] == (1, "throttle")


def test_memory_guard_needs_headroom_and_uses_the_measured_footprint() -> None:
    mb = 1024 * 1024
    scaler = policy(memory_headroom_bytes=256 * mb, cooldown_up_s=0)
    clock = FakeClock()
    tight = scaler.decide(MODEL, 1, dataclasses.replace(BUSY, free_memory_bytes=200 * mb), 0)
    assert (tight.desired, tight.reason) == (1, "memory_guard")
    first = scaler.decide(MODEL, 1, dataclasses.replace(BUSY, free_memory_bytes=2000 * mb), 1)
    assert first.desired == 2  # footprint unknown: one at a time
    clock.advance(10)
    # The new instance took 800 MB: 1200 - 256 MB headroom leaves room for one more only.
    after = scaler.decide(MODEL, 2, dataclasses.replace(BUSY, free_memory_bytes=1200 * mb), 2)
    assert after.desired == 3 and scaler.footprint_bytes(MODEL) == 800 * mb
    full = scaler.decide(MODEL, 3, dataclasses.replace(BUSY, free_memory_bytes=400 * mb), 3)
    assert (full.desired, full.reason) == (3, "memory_guard")  # 144 MB of room < 800 MB


def test_counts_outside_the_bounds_come_back_at_once() -> None:
    scaler = policy(min_instances=2, max_instances=3)
    assert scaler.decide(MODEL, 1, QUIET, 0).desired == 2
    above = scaler.decide(MODEL, 5, QUIET, 0)
    assert (above.desired, above.direction, above.reason) == (3, DOWN, "above_max")


def test_decision_carries_the_signals_behind_it() -> None:
    d = policy().decide(MODEL, 1, BUSY, 0)
    assert d.signals["queue_us_per_request"] == 50_000 and d.signals["utilization"] == 0.9
    assert "temperature_c" not in d.signals  # not reported, not invented


def test_models_without_an_override_use_the_default() -> None:
    scaler = ScalingPolicy({MODEL: PolicyConfig(max_instances=2)}, PolicyConfig(max_instances=3))
    assert scaler.config("other").max_instances == 3
    assert scaler.config(MODEL).max_instances == 2


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"min_instances": 3, "max_instances": 2}, "min_instances (3) > max_instances (2)"),
        ({"cooldown_up_s": -1}, "cooldown_up_s must not be negative"),
        ({"cooldown_down_s": -5}, "cooldown_down_s must not be negative"),
        ({"min_instances": 0}, "min_instances must be >= 1"),
        ({"scale_down_utilization": 0.8}, "scale_down_utilization < scale_up_utilization"),
    ],
)
def test_bad_config_is_an_error_naming_model_and_field(
    overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match="model 'image_cnn'") as info:
        policy(**overrides)
    assert message in str(info.value)
