"""The scaling policy: desired instances per model from signals, with no I/O and no clock.

Every call of :meth:`ScalingPolicy.decide` gets the time from its caller, so recorded signal
series replay exactly under a fake clock. The rules, in the order they are applied:

1. bounds: a count outside ``[min, max]`` is brought back inside at once;
2. throttle: a throttling device sheds one instance (after the fast cooldown);
3. panic: pending requests at least doubled within the panic window -> scale up now, on the
   latest sample, without waiting for the stable window to confirm (doubling the count);
4. up: over the stable window, mean utilization above ``scale_up_utilization`` or mean queue
   time per request above ``queue_time_target_us`` -> one more instance, unless the thermal
   guard (hot device) or the memory guard (the footprint does not fit) holds it back;
5. down: for the whole stable window, utilization below ``scale_down_utilization`` and an
   empty queue (no request waiting beyond the instances, queue time under half the target)
   -> one fewer, if the load would still fit the remaining instances.

Cooldowns count from the last change in either direction: ``cooldown_up_s`` before another
scale-up (or a throttle step), ``cooldown_down_s`` before a scale-down, so a scale-up is never
undone by the dip that its own new capacity causes.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

UP, DOWN, HOLD = "up", "down", "hold"
_IDLE_QUEUE_FRACTION = 0.5  # queue time under half the target counts as an empty queue


@dataclass(frozen=True)
class PolicyConfig:
    """Per-model knobs; defaults are the specification's."""

    min_instances: int = 1
    max_instances: int = 4
    scale_up_utilization: float = 0.75  # fraction 0..1
    scale_down_utilization: float = 0.30
    queue_time_target_us: float = 20_000.0
    cooldown_up_s: float = 60.0
    cooldown_down_s: float = 300.0
    stable_window_s: float = 60.0
    panic_window_s: float = 6.0
    panic_min_pending: int = 4  # doubling from 0 -> 1 is no panic
    thermal_limit_c: float = 75.0
    memory_headroom_bytes: int = 256 * 1024 * 1024
    instance_memory_bytes: int = 0  # footprint before one is measured; 0 = unknown

    def validate(self, model: str) -> None:
        """Raise ValueError naming the model and the field for a config that cannot work."""
        problems = []
        if self.min_instances < 1:
            problems.append(f"min_instances must be >= 1 (got {self.min_instances})")
        if self.min_instances > self.max_instances:
            problems.append(
                f"min_instances ({self.min_instances}) > max_instances ({self.max_instances})"
            )
        for name in ("cooldown_up_s", "cooldown_down_s", "stable_window_s", "panic_window_s"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must not be negative (got {getattr(self, name)})")
        if not 0 <= self.scale_down_utilization < self.scale_up_utilization <= 1:
            problems.append(
                "need 0 <= scale_down_utilization < scale_up_utilization <= 1 (got "
                f"{self.scale_down_utilization}, {self.scale_up_utilization})"
            )
        if self.queue_time_target_us <= 0:
            problems.append("queue_time_target_us must be > 0")
        if self.memory_headroom_bytes < 0 or self.instance_memory_bytes < 0:
            problems.append("memory_headroom_bytes and instance_memory_bytes must be >= 0")
        if problems:
            raise ValueError(f"autoscaler config for model '{model}': " + "; ".join(problems))


@dataclass(frozen=True)
class Signals:
    """One sample for one model; ``None`` where the source does not report the value."""

    pending: float = 0.0  # nv_inference_pending_request_count (queued + executing)
    queue_us_per_request: float | None = None  # delta queue_duration_us / delta requests
    request_rate: float = 0.0  # requests per second over the last interval
    utilization: float | None = None  # 0..1: GPU utilization, else busy fraction of instances
    temperature_c: float | None = None  # hottest device sensor
    throttled: bool = False
    free_memory_bytes: float | None = None


@dataclass(frozen=True)
class Decision:
    model: str
    current: int
    desired: int
    direction: str  # up | down | hold
    reason: str
    signals: dict[str, Any] = field(default_factory=dict)

    @property
    def changes(self) -> bool:
        return self.desired != self.current


@dataclass
class _ModelState:
    samples: deque[tuple[float, Signals]] = field(default_factory=deque)
    last_change: float | None = None
    free_before_up: float | None = None  # free memory when the last scale-up was decided
    count_before_up: int = 0
    footprint_bytes: float = 0.0  # measured: free memory lost per instance added


class ScalingPolicy:
    """Keeps a short signal history per model; decides one model at a time."""

    def __init__(self, configs: dict[str, PolicyConfig], default: PolicyConfig) -> None:
        for name, config in configs.items():
            config.validate(name)
        default.validate("*")
        self._configs = configs
        self._default = default
        self._state: dict[str, _ModelState] = {}

    def config(self, model: str) -> PolicyConfig:
        return self._configs.get(model, self._default)

    def footprint_bytes(self, model: str) -> float:
        state = self._state.get(model)
        measured = state.footprint_bytes if state else 0.0
        return measured or float(self.config(model).instance_memory_bytes)

    def decide(self, model: str, current: int, signals: Signals, now: float) -> Decision:
        cfg = self.config(model)
        state = self._state.setdefault(model, _ModelState())
        self._remember(state, cfg, signals, now)
        self._measure_footprint(state, current, signals)
        desired, direction, reason = self._rule(cfg, state, current, signals, now)
        if desired != current:
            state.last_change = now
            if desired > current:
                state.free_before_up = signals.free_memory_bytes
                state.count_before_up = current
        return Decision(model, current, desired, direction, reason, self._explain(state, signals))

    # -- rules ----------------------------------------------------------------------------
    def _rule(
        self, cfg: PolicyConfig, state: _ModelState, current: int, sig: Signals, now: float
    ) -> tuple[int, str, str]:
        if current < cfg.min_instances:
            return cfg.min_instances, UP, "below_min"
        if current > cfg.max_instances:
            return cfg.max_instances, DOWN, "above_max"
        since = math.inf if state.last_change is None else now - state.last_change
        if sig.throttled:
            if current > cfg.min_instances and since >= cfg.cooldown_up_s:
                return current - 1, DOWN, "throttle"
            return current, HOLD, "throttle"
        up_reason = self._up_reason(cfg, state, sig, now)
        if up_reason is not None:
            if current >= cfg.max_instances:
                return current, HOLD, "at_max"
            if sig.temperature_c is not None and sig.temperature_c >= cfg.thermal_limit_c:
                return current, HOLD, "thermal_guard"
            if since < cfg.cooldown_up_s:
                return current, HOLD, "cooldown_up"
            step = current if up_reason == "panic" else 1
            desired = min(cfg.max_instances, current + step)
            desired = self._fit_memory(cfg, state, sig.free_memory_bytes, current, desired)
            if desired == current:
                return current, HOLD, "memory_guard"
            return desired, UP, up_reason
        if self._idle(cfg, state, current, now):
            if current <= cfg.min_instances:
                return current, HOLD, "at_min"
            if since < cfg.cooldown_down_s:
                return current, HOLD, "cooldown_down"
            return current - 1, DOWN, "idle"
        return current, HOLD, "steady"

    def _up_reason(
        self, cfg: PolicyConfig, state: _ModelState, sig: Signals, now: float
    ) -> str | None:
        if self._panic(cfg, state, sig, now):
            return "panic"
        window = self._window(state, cfg.stable_window_s, now)
        util = _mean(s.utilization for s in window)
        if util is not None and util > cfg.scale_up_utilization:
            return "utilization"
        queue = _mean(s.queue_us_per_request for s in window)
        if queue is not None and queue > cfg.queue_time_target_us:
            return "queue_time"
        return None

    def _panic(self, cfg: PolicyConfig, state: _ModelState, sig: Signals, now: float) -> bool:
        if sig.pending < cfg.panic_min_pending:
            return False
        earlier = [s.pending for t, s in state.samples if now - t <= cfg.panic_window_s]
        return bool(earlier) and sig.pending >= 2 * max(min(earlier), 1.0)

    def _idle(self, cfg: PolicyConfig, state: _ModelState, current: int, now: float) -> bool:
        window = self._window(state, cfg.stable_window_s, now)
        # The whole stable window must be covered, and quiet, before giving capacity back.
        if not window or now - state.samples[0][0] < cfg.stable_window_s:
            return False
        for s in window:
            # "Queue empty": nothing waits beyond what the instances execute (mlinfer counts
            # executing requests as pending, Triton does not) and queueing stays short.
            if s.pending > current:
                return False
            if s.queue_us_per_request is not None and (
                s.queue_us_per_request > cfg.queue_time_target_us * _IDLE_QUEUE_FRACTION
            ):
                return False
            if s.utilization is not None and s.utilization >= cfg.scale_down_utilization:
                return False
        util = _mean(s.utilization for s in window) or 0.0
        # With one instance fewer the same work must stay below the scale-up threshold.
        return current <= 1 or util * current / (current - 1) < cfg.scale_up_utilization

    def _fit_memory(
        self,
        cfg: PolicyConfig,
        state: _ModelState,
        free: float | None,
        current: int,
        desired: int,
    ) -> int:
        """Instances that fit: each needs its footprint, and the headroom stays free."""
        if free is None:
            return desired
        footprint = state.footprint_bytes or float(cfg.instance_memory_bytes)
        room = free - cfg.memory_headroom_bytes
        if room <= 0:
            return current
        if footprint <= 0:
            return current + 1 if desired > current else current  # unknown size: one at a time
        return current + min(desired - current, int(room // footprint))

    # -- history --------------------------------------------------------------------------
    def _remember(self, state: _ModelState, cfg: PolicyConfig, sig: Signals, now: float) -> None:
        state.samples.append((now, sig))
        keep = max(cfg.stable_window_s, cfg.panic_window_s)
        # One sample older than the window stays: it proves the window is fully covered.
        while len(state.samples) > 2 and now - state.samples[1][0] >= keep:
            state.samples.popleft()

    @staticmethod
    def _window(state: _ModelState, seconds: float, now: float) -> list[Signals]:
        return [s for t, s in state.samples if now - t <= seconds]

    @staticmethod
    def _measure_footprint(state: _ModelState, current: int, sig: Signals) -> None:
        if state.free_before_up is None or sig.free_memory_bytes is None:
            return
        added = current - state.count_before_up
        if added <= 0:
            return  # the scale-up has not shown in the current count yet
        used = state.free_before_up - sig.free_memory_bytes
        if used > 0:
            state.footprint_bytes = used / added
        state.free_before_up = None

    @staticmethod
    def _explain(state: _ModelState, sig: Signals) -> dict[str, Any]:
        out = {k: v for k, v in asdict(sig).items() if v is not None}
        if state.footprint_bytes:
            out["instance_footprint_bytes"] = state.footprint_bytes
        return out


def _mean(values: Any) -> float | None:
    present = [float(v) for v in values if v is not None]
    return sum(present) / len(present) if present else None
