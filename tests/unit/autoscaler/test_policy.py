"""The scaling policy on recorded signal series, under a clock that moves only when told."""

from __future__ import annotations

import dataclasses

import pytest

from mlinfer.autoscaler.policy import (
    DOWN,
    HOLD,
    UP,
    Decision,
    PolicyConfig,
    ScalingPolicy,
    Signals,
)
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


def test_documented_defaults() -> None:
    # docs/AUTOSCALING.md: queue target 20 ms, panic window 6 s, 256 MiB headroom.
    cfg = PolicyConfig()
    assert (cfg.queue_time_target_us, cfg.stable_window_s, cfg.panic_window_s) == (20_000, 60, 6)
    assert (cfg.panic_min_pending, cfg.memory_headroom_bytes) == (4, 256 * 1024 * 1024)
    assert cfg.instance_memory_bytes == 0


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"stable_window_s": -1}, "stable_window_s must not be negative (got -1)"),
        ({"panic_window_s": -0.5}, "panic_window_s must not be negative (got -0.5)"),
        ({"scale_up_utilization": 1.1}, "(got 0.3, 1.1)"),
        ({"scale_down_utilization": -0.1}, "need 0 <= scale_down_utilization"),
        ({"scale_down_utilization": 0.75}, "(got 0.75, 0.75)"),
        ({"queue_time_target_us": 0}, "queue_time_target_us must be > 0"),
        ({"memory_headroom_bytes": -1}, "memory_headroom_bytes and instance_memory_bytes must"),
        ({"instance_memory_bytes": -1}, "memory_headroom_bytes and instance_memory_bytes must"),
        ({"min_instances": 0}, "min_instances must be >= 1 (got 0)"),
    ],
)
def test_each_bad_field_is_named(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError) as info:
        policy(**overrides)
    assert message in str(info.value)
    assert str(info.value).startswith("autoscaler config for model 'image_cnn': ")


def test_every_problem_is_listed_and_the_default_is_checked_too() -> None:
    with pytest.raises(ValueError) as info:
        policy(min_instances=0, cooldown_up_s=-1)
    assert str(info.value) == (
        "autoscaler config for model 'image_cnn': min_instances must be >= 1 (got 0); "
        "cooldown_up_s must not be negative (got -1)"
    )
    with pytest.raises(ValueError, match=r"model '\*'"):
        ScalingPolicy({}, PolicyConfig(max_instances=0))


def test_edge_configs_are_valid() -> None:
    policy(min_instances=1, max_instances=1, cooldown_up_s=0, cooldown_down_s=0,
           stable_window_s=0, panic_window_s=0, scale_down_utilization=0.0,
           scale_up_utilization=1.0, memory_headroom_bytes=0)  # fmt: skip
    policy(min_instances=3, max_instances=3)


def test_decision_changes_only_when_the_count_moves() -> None:
    scaler = policy()
    up = scaler.decide(MODEL, 1, BUSY, 0)
    assert up.changes and (up.model, up.current, up.desired, up.direction) == (MODEL, 1, 2, UP)
    hold = scaler.decide(MODEL, 2, BUSY, 1)
    assert not hold.changes and hold.direction == HOLD


def test_throttle_holds_at_min_and_within_the_cooldown_and_steps_at_it() -> None:
    scaler = policy(min_instances=2, cooldown_up_s=60)
    hot = dataclasses.replace(IDLE, throttled=True)
    at_min = scaler.decide(MODEL, 2, hot, 0)
    assert (at_min.desired, at_min.direction, at_min.reason) == (2, HOLD, "throttle")
    first = scaler.decide(MODEL, 3, hot, 0)
    assert (first.desired, first.direction) == (2, DOWN)
    early = scaler.decide(MODEL, 3, hot, 59.9)
    assert (early.desired, early.reason) == (3, "throttle")
    assert scaler.decide(MODEL, 3, hot, 60).desired == 2  # exactly the cooldown: allowed


def test_scale_up_waits_exactly_the_up_cooldown() -> None:
    scaler = policy(panic_min_pending=1000)
    assert scaler.decide(MODEL, 1, BUSY, 0).desired == 2
    assert scaler.decide(MODEL, 2, BUSY, 59.9).reason == "cooldown_up"
    assert scaler.decide(MODEL, 2, BUSY, 60).desired == 3


def test_utilization_and_queue_time_thresholds_are_strict() -> None:
    at = Signals(pending=1, queue_us_per_request=20_000, utilization=0.75)
    assert policy().decide(MODEL, 2, at, 0).reason == "steady"
    over = Signals(pending=1, queue_us_per_request=20_001, utilization=0.75)
    assert policy().decide(MODEL, 2, over, 0).reason == "queue_time"
    busier = Signals(pending=1, queue_us_per_request=None, utilization=0.751)
    assert policy().decide(MODEL, 2, busier, 0).reason == "utilization"


def test_utilization_is_averaged_over_the_stable_window_only() -> None:
    scaler = policy(stable_window_s=60, panic_min_pending=1000)
    assert scaler.decide(MODEL, 2, Signals(utilization=1.0), 0).reason == "utilization"
    assert scaler.decide(MODEL, 3, Signals(utilization=0.7), 40).reason == "cooldown_up"
    # At t=60 the t=0 sample is exactly 60 s old: still inside, mean (1.0 + 0.7 + 0.7) / 3.
    assert scaler.decide(MODEL, 3, Signals(utilization=0.7), 60).reason == "utilization"
    # At t=61 it has left the window: mean 0.7, steady.
    assert _at(scaler, 61, Signals(utilization=0.7)).reason == "steady"


def _at(scaler: ScalingPolicy, now: float, signals: Signals, current: int = 4) -> Decision:
    return scaler.decide(MODEL, current, signals, now)


def test_panic_needs_the_minimum_pending_and_a_doubling_within_its_window() -> None:
    calm = Signals(pending=2, utilization=0.1)
    scaler = policy(panic_window_s=6, panic_min_pending=4)
    scaler.decide(MODEL, 1, calm, 0)
    d = scaler.decide(MODEL, 1, dataclasses.replace(calm, pending=4), 6)  # 2 -> 4 in 6 s
    assert (d.desired, d.reason) == (2, "panic")
    slow = policy(panic_window_s=6, panic_min_pending=4)
    slow.decide(MODEL, 1, calm, 0)
    later = slow.decide(MODEL, 1, dataclasses.replace(calm, pending=4), 6.5)  # too slow
    assert later.reason != "panic"
    few = policy(panic_window_s=6, panic_min_pending=4)
    few.decide(MODEL, 1, Signals(pending=1, utilization=0.1), 0)
    assert few.decide(MODEL, 1, Signals(pending=3, utilization=0.1), 1).reason == "steady"
    # From an empty queue any burst of at least the minimum counts (doubling from 1, not 0).
    empty = policy(panic_min_pending=4)
    empty.decide(MODEL, 1, Signals(pending=0, utilization=0.1), 0)
    assert empty.decide(MODEL, 1, Signals(pending=4, utilization=0.1), 1).reason == "panic"
    nearly = policy(panic_min_pending=4)
    nearly.decide(MODEL, 1, Signals(pending=3, utilization=0.1), 0)
    assert nearly.decide(MODEL, 1, Signals(pending=5, utilization=0.1), 1).reason == "steady"


def test_panic_doubles_up_to_the_maximum() -> None:
    scaler = policy(max_instances=5)
    scaler.decide(MODEL, 3, Signals(pending=4, utilization=0.1), 0)
    d = scaler.decide(MODEL, 3, Signals(pending=40, utilization=0.1), 1)
    assert (d.desired, d.reason) == (5, "panic")


def test_scale_down_needs_the_whole_window_covered_and_quiet() -> None:
    scaler = policy(cooldown_down_s=0, stable_window_s=60)
    assert scaler.decide(MODEL, 2, IDLE, 0).reason == "steady"
    assert scaler.decide(MODEL, 2, IDLE, 59.9).reason == "steady"  # window not covered yet
    d = scaler.decide(MODEL, 2, IDLE, 60)
    assert (d.desired, d.direction, d.reason) == (1, DOWN, "idle")


@pytest.mark.parametrize(
    ("sample", "idle"),
    [
        (Signals(pending=2, utilization=0.1), True),  # as many pending as instances: executing
        (Signals(pending=3, utilization=0.1), False),
        (Signals(pending=0, queue_us_per_request=10_000, utilization=0.1), True),  # half target
        (Signals(pending=0, queue_us_per_request=10_001, utilization=0.1), False),
        (Signals(pending=0, utilization=0.29), True),
        (Signals(pending=0, utilization=0.30), False),  # at the scale-down threshold: not idle
        (Signals(pending=0), True),  # nothing reported but an empty queue
    ],
)
def test_what_counts_as_quiet(sample: Signals, idle: bool) -> None:
    scaler = policy(cooldown_down_s=0, stable_window_s=10)
    scaler.decide(MODEL, 2, sample, 0)
    d = scaler.decide(MODEL, 2, sample, 10)
    assert (d.reason == "idle") is idle


def test_scale_down_keeps_the_rest_under_the_up_threshold() -> None:
    # 3 -> 2 instances: utilization 0.49 becomes 0.735 < 0.75 (allowed); 0.5 becomes 0.75.
    for util, expected in ((0.49, "idle"), (0.5, "steady")):
        scaler = policy(cooldown_down_s=0, stable_window_s=10, scale_down_utilization=0.6)
        scaler.decide(MODEL, 3, Signals(utilization=util), 0)
        assert scaler.decide(MODEL, 3, Signals(utilization=util), 10).reason == expected


def test_scale_down_waits_exactly_the_down_cooldown_and_stops_at_min() -> None:
    assert policy().decide(MODEL, 0, IDLE, 0).reason == "below_min"
    scaler = policy(cooldown_down_s=300, stable_window_s=10)
    assert scaler.decide(MODEL, 3, IDLE, 0).reason == "steady"  # window not covered yet
    assert scaler.decide(MODEL, 3, IDLE, 10).desired == 2
    assert scaler.decide(MODEL, 2, IDLE, 309.9).reason == "cooldown_down"
    assert scaler.decide(MODEL, 2, IDLE, 310).desired == 1
    assert scaler.decide(MODEL, 1, IDLE, 1000).reason == "at_min"


def test_history_keeps_the_longer_window_and_one_older_sample() -> None:
    scaler = policy(stable_window_s=10, panic_window_s=30, cooldown_down_s=0)
    for t in range(0, 40, 5):
        scaler.decide(MODEL, 2, IDLE, t)
    samples = scaler._state[MODEL].samples
    assert [t for t, _ in samples] == [5, 10, 15, 20, 25, 30, 35]  # 35 - 5 = 30 s: one older
    short = policy(stable_window_s=10, panic_window_s=6)
    for t in range(0, 40, 5):
        short.decide(MODEL, 2, IDLE, t)
    assert [t for t, _ in short._state[MODEL].samples] == [25, 30, 35]


def test_memory_guard_without_a_footprint_adds_one_and_needs_room_above_headroom() -> None:
    mb = 1024 * 1024
    scaler = policy(memory_headroom_bytes=100 * mb, max_instances=8)
    scaler.decide(MODEL, 2, Signals(pending=4, utilization=0.1), 0)
    panic = dataclasses.replace(BUSY, pending=40, free_memory_bytes=1000 * mb)
    d = scaler.decide(MODEL, 2, panic, 1)
    assert (d.desired, d.reason) == (3, "panic")  # footprint unknown: one, not double
    exact = policy(memory_headroom_bytes=100 * mb)
    at_headroom = exact.decide(MODEL, 1, dataclasses.replace(BUSY, free_memory_bytes=100 * mb), 0)
    assert at_headroom.reason == "memory_guard"
    configured = policy(memory_headroom_bytes=0, instance_memory_bytes=300 * mb, max_instances=8)
    configured.decide(MODEL, 2, Signals(pending=4, utilization=0.1), 0)
    room = dataclasses.replace(BUSY, pending=40, free_memory_bytes=600 * mb)
    assert configured.decide(MODEL, 2, room, 1).desired == 4  # two of 300 MB fit in 600 MB
    assert configured.footprint_bytes(MODEL) == 300 * mb


def test_footprint_is_measured_once_the_new_instance_shows() -> None:
    mb = 1024 * 1024
    scaler = policy(memory_headroom_bytes=0, cooldown_up_s=60)
    busy = dataclasses.replace(BUSY, pending=1)
    scaler.decide(MODEL, 1, dataclasses.replace(busy, free_memory_bytes=3000 * mb), 0)
    # The count has not moved yet: nothing measured.
    scaler.decide(MODEL, 1, dataclasses.replace(busy, free_memory_bytes=2900 * mb), 1)
    assert scaler.footprint_bytes(MODEL) == 0
    d = scaler.decide(MODEL, 2, dataclasses.replace(busy, free_memory_bytes=2500 * mb), 2)
    assert scaler.footprint_bytes(MODEL) == 500 * mb
    assert d.signals["instance_footprint_bytes"] == 500 * mb
    # Measured once: later samples at the same count leave it alone.
    scaler.decide(MODEL, 2, dataclasses.replace(busy, free_memory_bytes=2000 * mb), 3)
    assert scaler.footprint_bytes(MODEL) == 500 * mb
    # Memory that grew back is no footprint; the earlier one stays.
    other = policy(memory_headroom_bytes=0, cooldown_up_s=0)
    other.decide(MODEL, 1, dataclasses.replace(busy, free_memory_bytes=3000 * mb), 0)
    other.decide(MODEL, 2, dataclasses.replace(busy, free_memory_bytes=3100 * mb), 1)
    assert other.footprint_bytes(MODEL) == 0
    assert "instance_footprint_bytes" not in other.decide(MODEL, 2, busy, 2).signals
    # After a scale-up of two, the loss is split over both.
    two = policy(memory_headroom_bytes=0, instance_memory_bytes=100 * mb, max_instances=8)
    two.decide(MODEL, 2, Signals(pending=4, utilization=0.1), 0)
    free = dataclasses.replace(BUSY, pending=40, free_memory_bytes=4000 * mb)
    assert two.decide(MODEL, 2, free, 1).desired == 4
    two.decide(MODEL, 4, dataclasses.replace(BUSY, free_memory_bytes=3000 * mb), 2)
    assert two.footprint_bytes(MODEL) == 500 * mb


def test_single_problem_messages_in_full() -> None:
    prefix = "autoscaler config for model 'image_cnn': "
    for overrides, message in (
        ({"queue_time_target_us": -1}, "queue_time_target_us must be > 0"),
        (
            {"memory_headroom_bytes": -1},
            "memory_headroom_bytes and instance_memory_bytes must be >= 0",
        ),
    ):
        with pytest.raises(ValueError) as info:
            policy(**overrides)
        assert str(info.value) == prefix + message
    policy(queue_time_target_us=0.5)  # any positive target


def test_a_footprint_of_one_byte_is_a_known_footprint() -> None:
    scaler = policy(memory_headroom_bytes=0, instance_memory_bytes=1, max_instances=8)
    scaler.decide(MODEL, 2, Signals(pending=4, utilization=0.1), 0)
    panic = dataclasses.replace(BUSY, pending=40, free_memory_bytes=10)
    assert scaler.decide(MODEL, 2, panic, 1).desired == 4  # doubled: it fits


def test_any_room_above_the_headroom_allows_one_instance_of_unknown_size() -> None:
    d = policy(memory_headroom_bytes=100).decide(
        MODEL, 1, dataclasses.replace(BUSY, free_memory_bytes=101), 0
    )
    assert (d.desired, d.reason) == (2, "utilization")


def test_window_coverage_counts_from_the_first_sample_not_from_zero() -> None:
    scaler = policy(cooldown_down_s=0, stable_window_s=60)
    scaler.decide(MODEL, 2, IDLE, 1000)
    assert scaler.decide(MODEL, 2, IDLE, 1010).reason == "steady"  # 10 s of a 60 s window
    assert scaler.decide(MODEL, 2, IDLE, 1060).reason == "idle"


def test_footprint_keeps_its_last_measurement() -> None:
    mb = 1024 * 1024
    scaler = policy(memory_headroom_bytes=0, cooldown_up_s=0, max_instances=8)
    busy = dataclasses.replace(BUSY, pending=1)
    scaler.decide(MODEL, 1, dataclasses.replace(busy, free_memory_bytes=3000 * mb), 0)
    scaler.decide(MODEL, 2, dataclasses.replace(busy, free_memory_bytes=2500 * mb), 1)
    assert scaler.footprint_bytes(MODEL) == 500 * mb
    # The next instance took nothing measurable (free memory unchanged): the 500 MB stay.
    scaler.decide(MODEL, 3, dataclasses.replace(busy, free_memory_bytes=2500 * mb), 2)
    assert scaler.footprint_bytes(MODEL) == 500 * mb
    scaler.decide(MODEL, 4, dataclasses.replace(busy, free_memory_bytes=2000 * mb), 3)
    assert scaler.footprint_bytes(MODEL) == 500 * mb
    tiny = policy(memory_headroom_bytes=0, cooldown_up_s=0)
    tiny.decide(MODEL, 1, dataclasses.replace(busy, free_memory_bytes=1000), 0)
    tiny.decide(MODEL, 2, dataclasses.replace(busy, free_memory_bytes=999), 1)
    assert tiny.footprint_bytes(MODEL) == 1.0


def test_footprint_before_any_decision_is_the_configured_one() -> None:
    assert policy(instance_memory_bytes=300).footprint_bytes(MODEL) == 300
    assert policy().footprint_bytes("never-seen") == 0


def test_panic_from_a_queue_of_one() -> None:
    scaler = policy(panic_min_pending=2)
    scaler.decide(MODEL, 1, Signals(pending=1, utilization=0.1), 0)
    assert scaler.decide(MODEL, 1, Signals(pending=3, utilization=0.1), 1).reason == "panic"
