"""What rate limiting is told: :class:`RateLimitConfig`, checked once at start-up.

:class:`RateLimitSettings` is the slice of ``Settings`` read here (fields ``ratelimit_*``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from mlinfer.ratelimit.bucket import Rate


class RateLimitSettings(Protocol):
    """The ``ratelimit_*`` settings fields (read-only, so ``Settings`` matches structurally)."""

    @property
    def ratelimit_identity_rps(self) -> float | None: ...
    @property
    def ratelimit_identity_burst(self) -> float | None: ...
    @property
    def ratelimit_model_rps(self) -> float | None: ...
    @property
    def ratelimit_model_burst(self) -> float | None: ...
    @property
    def ratelimit_overrides(self) -> Mapping[str, Rate]: ...
    @property
    def ratelimit_redis_url(self) -> str | None: ...
    @property
    def ratelimit_redis_prefix(self) -> str: ...
    @property
    def ratelimit_redis_timeout_seconds(self) -> float: ...
    @property
    def ratelimit_redis_retry_seconds(self) -> float: ...


def split_override(key: str) -> tuple[str, str]:
    """``"client/model-glob"`` -> ``("client", "model-glob")``.

    Split at the last ``/``: model names are directory names and never hold one, while
    a client name (JWT ``sub``) might.
    """
    identity, sep, pattern = key.rpartition("/")
    if not sep or not identity or not pattern:
        raise ValueError(f"rate limit override '{key}' must look like '<client>/<model glob>'")
    return identity, pattern


@dataclass(frozen=True)
class RateLimitConfig:
    """Per-client and per-model limits (None = unlimited) and optional Redis sharing.

    ``overrides`` maps ``"<client>/<model glob>"`` to a rate that *replaces* the client's
    limit for the matching models, with one bucket per override: ``"alice/*"`` gives
    alice her own overall rate, ``"cam-7/detector"`` one camera a budget on one model.
    The per-model limit still applies (it protects the model). Exact model names win
    over globs; among globs the first in configuration order wins.
    """

    identity: Rate | None = None
    model: Rate | None = None
    overrides: Mapping[str, Rate] = field(default_factory=dict)
    redis_url: str | None = None
    redis_prefix: str = "mlinfer:rl:"
    redis_timeout_s: float = 0.25
    redis_retry_s: float = 1.0

    def __post_init__(self) -> None:
        for key in self.overrides:
            split_override(key)
        if self.redis_timeout_s <= 0 or self.redis_retry_s <= 0:
            raise ValueError("Redis timeout and retry interval must be positive")

    @property
    def enabled(self) -> bool:
        return self.identity is not None or self.model is not None or bool(self.overrides)

    @classmethod
    def from_settings(cls, settings: RateLimitSettings) -> RateLimitConfig:
        return cls(
            identity=_rate(settings.ratelimit_identity_rps, settings.ratelimit_identity_burst),
            model=_rate(settings.ratelimit_model_rps, settings.ratelimit_model_burst),
            overrides=dict(settings.ratelimit_overrides),
            redis_url=settings.ratelimit_redis_url,
            redis_prefix=settings.ratelimit_redis_prefix,
            redis_timeout_s=settings.ratelimit_redis_timeout_seconds,
            redis_retry_s=settings.ratelimit_redis_retry_seconds,
        )


def _rate(rps: float | None, burst: float | None) -> Rate | None:
    """A :class:`Rate`, or None (unlimited) when no positive rate is set."""
    if rps is None or rps <= 0:
        return None
    return Rate(requests_per_second=rps, burst=burst)
