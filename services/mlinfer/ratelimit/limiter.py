"""The one entry point transports call: (client, model) in, admit or 429 out."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence
from typing import Protocol

from mlinfer.ratelimit.bucket import ALLOW, BucketRef, Decision, Rate
from mlinfer.ratelimit.errors import RateLimitedError
from mlinfer.ratelimit.local import LocalRateLimiter
from mlinfer.ratelimit.redis_backend import RedisRateLimiter, redis_client
from mlinfer.ratelimit.settings import RateLimitSettings, split_override


class BucketStore(Protocol):
    """Where bucket state lives: this process, or Redis."""

    async def acquire(self, buckets: Sequence[BucketRef]) -> Decision: ...
    async def aclose(self) -> None: ...


class InProcessStore:
    """A :class:`LocalRateLimiter` behind the async store interface (the default)."""

    def __init__(self, local: LocalRateLimiter) -> None:
        self._local = local

    async def acquire(self, buckets: Sequence[BucketRef]) -> Decision:
        return self._local.acquire(buckets)

    async def aclose(self) -> None:
        return None


class RateLimiter:
    """Token buckets per client, per model and per override, in one place.

    Built once per process (:meth:`from_settings`) and shared by REST and gRPC. Clients
    are the authenticated identity's subject; the adapter decides what an anonymous
    caller is (``"anonymous"``, or its peer address).
    """

    def __init__(self, config: RateLimitSettings, *, store: BucketStore | None = None) -> None:
        self.config = config
        self.store: BucketStore = store if store is not None else InProcessStore(LocalRateLimiter())
        self._exact: dict[tuple[str, str], tuple[str, Rate]] = {}
        self._globs: dict[str, list[tuple[str, str, Rate]]] = {}
        for key, rate in config.overrides.items():
            identity, pattern = split_override(key)
            if any(ch in pattern for ch in "*?["):
                self._globs.setdefault(identity, []).append((pattern, key, rate))
            else:
                self._exact[(identity, pattern)] = (key, rate)

    @classmethod
    def from_settings(
        cls,
        settings: RateLimitSettings,
        *,
        on_fallback: Callable[[], None] | None = None,
        on_redis_state: Callable[[bool], None] | None = None,
    ) -> RateLimiter:
        """In-process limiter, or Redis-backed when ``redis_url`` is set.

        ``on_fallback`` is called for every request decided in-process because Redis is
        down (a counter), ``on_redis_state(up)`` on every outage and recovery (a gauge).
        """
        if settings.redis_url is None or not settings.enabled:
            return cls(settings)
        store = RedisRateLimiter(
            redis_client(settings.redis_url, timeout_s=settings.redis_timeout_seconds),
            prefix=settings.redis_prefix,
            retry_interval_s=settings.redis_retry_seconds,
            on_fallback=on_fallback,
            on_redis_state=on_redis_state,
        )
        return cls(settings, store=store)

    @property
    def enabled(self) -> bool:
        return self.config.enabled

    def buckets_for(self, identity: str, model: str | None) -> list[BucketRef]:
        """The buckets one request from ``identity`` for ``model`` takes a token from."""
        buckets: list[BucketRef] = []
        override = self._override(identity, model) if model is not None else None
        if override is not None:
            key, rate = override
            buckets.append(BucketRef(f"o:{key}", rate, "client+model"))
        elif self.config.identity is not None:
            buckets.append(BucketRef(f"c:{identity}", self.config.identity, "client"))
        if model is not None and self.config.model is not None:
            buckets.append(BucketRef(f"m:{model}", self.config.model, "model"))
        return buckets

    def _override(self, identity: str, model: str) -> tuple[str, Rate] | None:
        exact = self._exact.get((identity, model))
        if exact is not None:
            return exact
        for pattern, key, rate in self._globs.get(identity, ()):
            if fnmatch.fnmatchcase(model, pattern):
                return key, rate
        return None

    async def check(self, identity: str, model: str | None = None) -> Decision:
        """Take a token for this request if every applicable bucket has one."""
        if not self.enabled:
            return ALLOW
        return await self.store.acquire(self.buckets_for(identity, model))

    async def enforce(self, identity: str, model: str | None = None) -> None:
        """:meth:`check`, raising :class:`RateLimitedError` (429) when refused."""
        decision = await self.check(identity, model)
        if not decision.allowed:
            raise limited_error(decision, identity, model)

    async def aclose(self) -> None:
        await self.store.aclose()


def limited_error(decision: Decision, identity: str, model: str | None) -> RateLimitedError:
    """The 429 for a refused ``decision``; the message names the limit that refused."""
    subject = {
        "client": f"client '{identity}'",
        "model": f"model '{model}'",
        "client+model": f"client '{identity}' on model '{model}'",
    }.get(decision.limit or "", f"client '{identity}'")
    return RateLimitedError(
        f"rate limit exceeded for {subject}; retry in {_seconds(decision.retry_after_s)} s",
        retry_after_s=decision.retry_after_s,
    )


def _seconds(value: float) -> str:
    """``0.25``, ``1``, ``100``: short, and never in exponent notation."""
    return f"{value:.3g}" if value < 100 else f"{value:.0f}"
