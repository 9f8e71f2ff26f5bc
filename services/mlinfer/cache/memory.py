"""In-process LRU: the default response cache, bounded by bytes, entry count and age.

Used only from the event loop thread (like the rest of the data plane's bookkeeping), so it
needs no lock; the ``async`` methods complete without awaiting anything.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from mlinfer.cache.backend import FailureNotifier


@dataclass
class _Entry:
    value: bytes
    size: int
    expires_at: float  # clock() value; +inf when there is no TTL


class MemoryBackend(FailureNotifier):
    """Least-recently-used store of encoded entries.

    ``max_bytes`` bounds the sum of entry and key lengths (the payload, not Python's object
    overhead, which is small per entry next to tensor data); ``max_entries`` bounds the count;
    ``ttl_s`` (0 = none) expires entries lazily on read and from the cold end on write.
    ``clock`` is injectable so tests can move time without sleeping.
    """

    name = "memory"

    def __init__(
        self,
        max_bytes: int,
        max_entries: int,
        ttl_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_bytes <= 0 or max_entries <= 0:
            raise ValueError("memory cache needs max_bytes > 0 and max_entries > 0")
        if ttl_s < 0:
            raise ValueError("memory cache ttl_s must be >= 0")
        super().__init__()
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self.bytes_used = 0
        self.evictions = 0
        self.expirations = 0
        self.failures = 0  # the memory store cannot fail; kept for the backend protocol

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires_at <= self._clock():
            self._remove(key)
            self.expirations += 1
            return None
        self._entries.move_to_end(key)
        return entry.value

    async def set(self, key: str, value: bytes) -> bool:
        size = len(value) + len(key)
        if size > self.max_bytes:
            return False  # would evict everything and still not fit
        if key in self._entries:
            self._remove(key)
        now = self._clock()
        expires = now + self.ttl_s if self.ttl_s > 0 else float("inf")
        self._entries[key] = _Entry(value, size, expires)
        self.bytes_used += size
        self._drop_expired_cold_end(now)
        while len(self._entries) > self.max_entries or self.bytes_used > self.max_bytes:
            oldest = next(iter(self._entries))
            self._remove(oldest)
            self.evictions += 1
        return True

    async def close(self) -> None:
        self._entries.clear()
        self.bytes_used = 0

    def _remove(self, key: str) -> None:
        entry = self._entries.pop(key)
        self.bytes_used -= entry.size

    def _drop_expired_cold_end(self, now: float) -> None:
        # Expired entries that are never read again would hold memory until evicted; the
        # least recently used ones are the likeliest to have expired, so sweep from there.
        while self._entries:
            key, entry = next(iter(self._entries.items()))
            if entry.expires_at > now:
                return
            self._remove(key)
            self.expirations += 1
