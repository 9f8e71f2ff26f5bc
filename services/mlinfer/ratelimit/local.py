"""In-process token buckets: the default limiter, and the fallback while Redis is down."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

from mlinfer.ratelimit.bucket import ALLOW, BucketRef, Decision, decide, refill


class LocalRateLimiter:
    """Buckets in a dict, under a lock so REST and gRPC threads can share one limiter.

    ``clock`` is injectable (monotonic seconds) so tests drive time without sleeping.
    At most ``max_buckets`` are kept; the least recently used goes first, which costs at
    worst a fresh burst to a client idle for the longest time.
    """

    def __init__(
        self, *, clock: Callable[[], float] = time.monotonic, max_buckets: int = 100_000
    ) -> None:
        self._clock = clock
        self._max = max_buckets
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, at
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._buckets)

    def acquire(self, buckets: Sequence[BucketRef]) -> Decision:
        """Take one token from every bucket, or from none and say how long to wait."""
        if not buckets:
            return ALLOW
        with self._lock:
            now = self._clock()
            levels = []
            for bucket in buckets:
                state = self._buckets.get(bucket.key)
                tokens = bucket.rate.capacity if state is None else refill(*state, now, bucket.rate)
                levels.append(tokens)
            decision = decide(buckets, levels)
            if decision.allowed:
                for bucket, tokens in zip(buckets, levels, strict=True):
                    self._buckets[bucket.key] = (tokens - 1.0, now)
                    self._buckets.move_to_end(bucket.key)
                while len(self._buckets) > self._max:
                    self._buckets.popitem(last=False)
            return decision
