"""Build the response cache from its settings (the server factory calls this once)."""

from __future__ import annotations

import time
from collections.abc import Callable

from mlinfer.cache.backend import CacheBackend
from mlinfer.cache.memory import MemoryBackend
from mlinfer.cache.response_cache import ResponseCache
from mlinfer.cache.settings import CacheSettings
from mlinfer.cache.stats import CacheObserver


def create_response_cache(
    settings: CacheSettings,
    observer: CacheObserver | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> ResponseCache | None:
    """The configured cache, or None when caching is off. Connects lazily (no I/O here)."""
    backend: CacheBackend
    if settings.backend == "off":
        return None
    if settings.backend == "memory":
        backend = MemoryBackend(
            settings.max_bytes, settings.max_entries, settings.ttl_seconds, clock=clock
        )
    elif settings.backend == "redis":
        from mlinfer.cache.redis_backend import RedisBackend  # redis-py only when used

        backend = RedisBackend.from_url(
            settings.redis_url,
            prefix=settings.redis_prefix,
            ttl_s=settings.ttl_seconds,
            timeout_s=settings.redis_timeout_seconds,
            retry_after_s=settings.redis_retry_seconds,
            clock=clock,
        )
    else:
        raise ValueError(f"unknown cache backend '{settings.backend}' (memory, redis or off)")
    return ResponseCache(
        backend,
        max_entry_bytes=settings.max_entry_bytes,
        key_hash=settings.key_hash,
        observer=observer,
    )
