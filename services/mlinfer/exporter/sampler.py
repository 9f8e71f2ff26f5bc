"""Runs the collectors in the background; a scrape renders the last sample at once.

A collector that fails (or whose source is missing) logs once, reports
``mlinfer_exporter_collector_up{collector} 0`` and is tried again next interval; the
exporter never stops because one source is gone.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from mlinfer.exporter.readings import (
    COUNTER,
    DURATION_METRIC,
    METRICS,
    UP_METRIC,
    CollectorUnavailable,
    Reading,
    check_known,
)

log = logging.getLogger(__name__)


class Source(Protocol):
    name: str

    def collect(self) -> list[Reading]: ...

    def close(self) -> None: ...


@dataclass
class _State:
    up: bool = False
    readings: list[Reading] = field(default_factory=list)
    duration_s: float = 0.0
    problem: str | None = None  # the last failure logged, so it is logged once


class Sampler:
    def __init__(
        self,
        sources: Sequence[Source],
        interval_s: float,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._sources = list(sources)
        self._interval_s = interval_s
        self._clock = clock
        self._states = {s.name: _State() for s in self._sources}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.samples = 0  # completed rounds, for whoever waits for the first one

    def sample_once(self) -> None:
        for source in self._sources:
            start = self._clock()
            try:
                readings, up, problem = check_known(source.collect()), True, None
            except CollectorUnavailable as exc:
                readings, up, problem = [], False, str(exc)
            except Exception as exc:  # a broken source must not stop the others
                readings, up, problem = [], False, f"{type(exc).__name__}: {exc}"
            elapsed = self._clock() - start
            with self._lock:
                state = self._states[source.name]
                if problem is not None and problem != state.problem:
                    log.warning("exporter: collector %s down: %s", source.name, problem)
                elif problem is None and state.problem is not None:
                    log.info("exporter: collector %s up again", source.name)
                state.up, state.readings, state.duration_s = up, readings, elapsed
                state.problem = problem
        with self._lock:
            self.samples += 1

    def start(self) -> None:
        self.sample_once()  # the first scrape already has data
        self._thread = threading.Thread(target=self._loop, name="exporter-sampler", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval_s):
            self.sample_once()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        for source in self._sources:
            source.close()

    def collector(self) -> Collector:
        return _Exposition(self)

    def snapshot(self) -> dict[str, _State]:
        with self._lock:
            return {
                name: _State(s.up, list(s.readings), s.duration_s, s.problem)
                for name, s in self._states.items()
            }


class _Exposition(Collector):
    """prometheus_client collector over the sampler's last readings."""

    def __init__(self, sampler: Sampler) -> None:
        self._sampler = sampler

    def collect(self) -> Iterator[Metric]:
        states = self._sampler.snapshot()
        up = GaugeMetricFamily(
            UP_METRIC, "1 if the collector's last run succeeded", labels=["collector"]
        )
        duration = GaugeMetricFamily(
            DURATION_METRIC, "Time the collector's last run took", labels=["collector"]
        )
        for name, state in sorted(states.items()):
            up.add_metric([name], 1.0 if state.up else 0.0)
            duration.add_metric([name], state.duration_s)
        yield up
        yield duration
        by_name: dict[str, list[Reading]] = {}
        for reading in _merged(states):
            by_name.setdefault(reading.name, []).append(reading)
        for name, readings in sorted(by_name.items()):
            kind, help_text, label_names = METRICS[name]
            if kind == COUNTER:
                continue  # rendered by render_triton_counters, under Triton's exact name
            family = GaugeMetricFamily(name, help_text, labels=list(label_names))
            for r in readings:
                family.add_metric([r.labels[k] for k in label_names], r.value)
            yield family


def render_triton_counters(sampler: Sampler) -> str:
    """Counters in Triton's spelling: ``nv_energy_consumption`` has no ``_total`` suffix.

    prometheus_client appends ``_total`` to every counter, so these few lines are written here.
    """
    lines: list[str] = []
    readings = _merged(sampler.snapshot())
    for name, (kind, help_text, label_names) in METRICS.items():
        values = [r for r in readings if r.name == name]
        if kind != COUNTER or not values:
            continue
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} counter"]
        for r in values:
            labels = ",".join(f'{k}="{_escape(r.labels[k])}"' for k in label_names)
            lines.append(f"{name}{{{labels}}} {r.value!r}")
    return "\n".join(lines) + "\n" if lines else ""


def _merged(states: dict[str, _State]) -> list[Reading]:
    """Readings of all collectors; a series two report comes from the first in order.

    tegrastats and sysfs both see a Jetson's GPU load and temperatures: sysfs is the
    fallback, listed after tegrastats, so a series is exposed once.
    """
    seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    out = []
    for state in states.values():  # in collector order
        for reading in state.readings:
            key = (reading.name, tuple(sorted(reading.labels.items())))
            if key not in seen:
                seen.add(key)
                out.append(reading)
    return out


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
