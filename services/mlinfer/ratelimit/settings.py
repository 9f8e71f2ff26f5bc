"""What rate limiting is told: :class:`RateLimitSettings` (prefix ``MLINFER_RATELIMIT_``)."""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mlinfer.ratelimit.bucket import Rate


def split_override(key: str) -> tuple[str, str]:
    """``"client/model-glob"`` -> ``("client", "model-glob")``.

    Split at the last ``/``: model names are directory names and never hold one, while
    a client name (JWT ``sub``) might.
    """
    identity, sep, pattern = key.rpartition("/")
    if not sep or not identity or not pattern:
        raise ValueError(f"rate limit override '{key}' must look like '<client>/<model glob>'")
    return identity, pattern


class RateLimitSettings(BaseSettings):
    """Per-client and per-model limits (unset or 0 = unlimited) and optional Redis sharing.

    ``overrides`` maps ``"<client>/<model glob>"`` to a rate that *replaces* the client's
    limit for the matching models, with one bucket per override: ``"alice/*"`` gives
    alice her own overall rate, ``"cam-7/detector"`` one camera a budget on one model.
    The per-model limit still applies (it protects the model). Exact model names win
    over globs; among globs the first in configuration order wins.
    """

    model_config = SettingsConfigDict(env_prefix="MLINFER_RATELIMIT_", extra="ignore", frozen=True)

    identity_rps: float | None = Field(
        default=None, description="Requests/s per client identity; unset or 0 = unlimited."
    )
    identity_burst: float | None = Field(
        default=None, description="Per-client burst; default max(1, rps)."
    )
    model_rps: float | None = Field(
        default=None, description="Requests/s per model, all clients together; unset = unlimited."
    )
    model_burst: float | None = Field(
        default=None, description="Per-model burst; default max(1, rps)."
    )
    overrides: dict[str, Rate] = Field(
        default_factory=dict,
        description='"<client>/<model glob>" -> {"requests_per_second", "burst"}, replacing '
        "the client limit for those models.",
    )
    redis_url: str | None = Field(
        default=None, description="Share buckets between processes through this Redis."
    )
    redis_prefix: str = Field(
        default="mlinfer:rl:", description="Prefix of rate limit keys in Redis."
    )
    redis_timeout_seconds: float = Field(
        default=0.25, description="Redis socket timeout; past it the request is limited locally."
    )
    redis_retry_seconds: float = Field(
        default=1.0, description="How often to probe Redis again during an outage."
    )

    @model_validator(mode="after")
    def _consistent(self) -> RateLimitSettings:
        for key in self.overrides:
            split_override(key)
        if self.redis_timeout_seconds <= 0 or self.redis_retry_seconds <= 0:
            raise ValueError("Redis timeout and retry interval must be positive")
        return self

    @property
    def identity(self) -> Rate | None:
        return _rate(self.identity_rps, self.identity_burst)

    @property
    def model(self) -> Rate | None:
        return _rate(self.model_rps, self.model_burst)

    @property
    def enabled(self) -> bool:
        return self.identity is not None or self.model is not None or bool(self.overrides)


def _rate(rps: float | None, burst: float | None) -> Rate | None:
    """A :class:`Rate`, or None (unlimited) when no positive rate is set."""
    if rps is None or rps <= 0:
        return None
    return Rate(requests_per_second=rps, burst=burst)
