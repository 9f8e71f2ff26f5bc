"""What the response cache is told: :class:`CacheSettings` (prefix ``MLINFER_CACHE_``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from mlinfer.cache.key import KeyHash
from mlinfer.cache.response_cache import DEFAULT_MAX_ENTRY_BYTES

CacheBackendName = Literal["memory", "redis", "off"]


class CacheSettings(BaseSettings):
    """Where cached responses live and their bounds (models opt in per config.pbtxt)."""

    model_config = SettingsConfigDict(env_prefix="MLINFER_CACHE_", extra="ignore", frozen=True)

    backend: CacheBackendName = Field(
        default="memory", description="Where cached responses live (models opt in)."
    )
    max_bytes: int = Field(
        default=256 * 1024 * 1024, description="Memory cache: bound on total bytes."
    )
    max_entries: int = Field(default=100_000, description="Memory cache: bound on entries.")
    max_entry_bytes: int = Field(
        default=DEFAULT_MAX_ENTRY_BYTES, description="Larger responses are not cached."
    )
    ttl_seconds: float = Field(default=3600.0, description="Entry lifetime; 0 = forever.")
    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0", description="Redis for MLINFER_CACHE_BACKEND=redis."
    )
    redis_prefix: str = Field(default="mlinfer:rc:", description="Cache key namespace.")
    redis_timeout_seconds: float = Field(
        default=0.25, description="Redis socket timeout; past it the request goes uncached."
    )
    redis_retry_seconds: float = Field(
        default=1.0, description="How long Redis is skipped after a failure."
    )
    key_hash: KeyHash | None = Field(
        default=None,
        description="Hash of tensor bytes in cache keys (None: xxh3_128; blake2b where "
        "clients must not be able to craft collisions).",
    )
