"""Progress of long steps (calibration, profiling, engine builds) as plain lines on stderr.

Plain lines rather than a redrawn bar: they survive pipes, CI logs and journald on the appliance.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

Reporter = Callable[[str], None]


def stderr_reporter(stream: TextIO | None = None) -> Reporter:
    def report(message: str) -> None:
        print(message, file=stream or sys.stderr, flush=True)

    return report


def silent(_: str) -> None:
    return None


class Progress:
    """Named steps with elapsed time, and counted sub-steps that report at most every second."""

    def __init__(self, report: Reporter = silent, clock: Callable[[], float] = time.monotonic):
        self.report = report
        self._clock = clock

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        start = self._clock()
        self.report(f"[optimize] {title} ...")
        yield
        self.report(f"[optimize] {title}: done in {self._clock() - start:.1f}s")

    def counter(self, title: str, total: int) -> Callable[[int], None]:
        """A callback taking the number done so far; prints ``title: done/total``."""
        last = [self._clock() - 1.0]

        def advance(done: int) -> None:
            now = self._clock()
            if done >= total or now - last[0] >= 1.0:
                last[0] = now
                self.report(f"[optimize]   {title}: {done}/{total}")

        return advance
