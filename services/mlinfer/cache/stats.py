"""Response-cache counters, and the hook through which the server turns them into its stats.

Triton reports per model version ``cache_hit`` {count, ns: lookup time of hits} and
``cache_miss`` {count, ns: lookup time of misses plus the time to insert their responses},
and Prometheus ``nv_cache_num_hits_per_model`` / ``nv_cache_num_misses_per_model``. The cache
keeps those numbers itself (:class:`CacheStats`) and also calls a :class:`CacheObserver`, so
the server can add them to its ``ModelStats`` as they happen::

    class StatsObserver(CacheObserver):
        def on_hit(self, model, version, lookup_ns):
            stats(model, version).cache_hit.add(lookup_ns)
        def on_miss(self, model, version, lookup_ns):
            stats(model, version).cache_miss.add(lookup_ns)
        def on_insert(self, model, version, insert_ns):
            stats(model, version).cache_miss.add(insert_ns, count=0)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tritonclient.grpc import service_pb2 as pb


class CacheObserver:
    """No-op base; override what you need. Called on the event loop thread; must not raise."""

    def on_hit(self, model: str, version: str, lookup_ns: int) -> None:
        """A lookup found an entry (``lookup_ns``: hashing, fetch and decode)."""

    def on_miss(self, model: str, version: str, lookup_ns: int) -> None:
        """A lookup found nothing usable (absent, expired, corrupt, or the store is down)."""

    def on_insert(self, model: str, version: str, insert_ns: int) -> None:
        """A response was written (``insert_ns``: encoding and store)."""

    def on_backend_failure(self, backend: str, error: BaseException) -> None:
        """A store operation failed (e.g. Redis unreachable); the request went on uncached."""


@dataclass
class ModelCacheStats:
    hits: int = 0
    misses: int = 0
    hit_ns: int = 0  # total lookup time of hits
    miss_ns: int = 0  # total lookup time of misses
    inserts: int = 0
    insert_ns: int = 0
    too_large: int = 0  # responses not stored: over max_entry_bytes
    corrupt: int = 0  # entries that failed to decode (counted as misses too)

    def hit_duration(self) -> pb.StatisticDuration:
        """Triton's ``cache_hit``: hits and their lookup time."""
        return pb.StatisticDuration(count=self.hits, ns=self.hit_ns)

    def miss_duration(self) -> pb.StatisticDuration:
        """Triton's ``cache_miss``: misses, their lookup time plus the time to insert."""
        return pb.StatisticDuration(count=self.misses, ns=self.miss_ns + self.insert_ns)


@dataclass
class CacheStats:
    models: dict[tuple[str, str], ModelCacheStats] = field(default_factory=dict)
    backend_failures: int = 0

    def model(self, name: str, version: str) -> ModelCacheStats:
        """Counters of one model version (created on first use)."""
        return self.models.setdefault((name, version), ModelCacheStats())
