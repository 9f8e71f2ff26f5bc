"""Build the response cache from settings, in the one place the server assembles objects.

:class:`CacheSettings` mirrors the ``cache_*`` fields proposed for ``core.settings.Settings``
(env prefix ``MLINFER_``), so this package does not depend on the settings module; the server
factory copies the fields across.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from mlinfer.cache.backend import CacheBackend
from mlinfer.cache.key import KeyHash
from mlinfer.cache.memory import MemoryBackend
from mlinfer.cache.response_cache import DEFAULT_MAX_ENTRY_BYTES, ResponseCache
from mlinfer.cache.stats import CacheObserver

CacheBackendName = Literal["memory", "redis", "off"]


@dataclass(frozen=True)
class CacheSettings:
    backend: CacheBackendName = "memory"
    max_bytes: int = 256 * 1024 * 1024  # memory backend
    max_entries: int = 100_000  # memory backend
    max_entry_bytes: int = DEFAULT_MAX_ENTRY_BYTES
    ttl_seconds: float = 3600.0  # 0 = entries never expire
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_prefix: str = "mlinfer:rc:"
    redis_timeout_seconds: float = 0.25
    redis_retry_seconds: float = 1.0
    key_hash: KeyHash | None = None  # None: xxh3_128 when xxhash is installed, else blake2b


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
