"""Redis response-cache store, shared by every mlinfer process pointed at the same server.

A cache outage must cost neither errors nor latency: every Redis error becomes a miss (get) or
a dropped write (set), the first failure of an outage logs one warning, and after a failure the
backend stops talking to Redis for ``retry_after_s`` (a circuit breaker) so requests do not each
pay a connect timeout. The next call after that window probes Redis again through redis-py's
pool, which reconnects by itself: when Redis comes back the cache resumes without a restart.
redis-py's own retries are turned off for the same reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from mlinfer.cache.backend import FailureNotifier

log = logging.getLogger(__name__)

_ERRORS = (RedisError, OSError, asyncio.TimeoutError)


class RedisBackend(FailureNotifier):
    """Entries live under ``prefix + key`` with a TTL set by ``SET ... EX`` (or PX)."""

    name = "redis"

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str = "mlinfer:rc:",
        ttl_s: float = 0.0,
        retry_after_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        description: str = "redis",
    ) -> None:
        if ttl_s < 0 or retry_after_s < 0:
            raise ValueError("redis cache ttl_s and retry_after_s must be >= 0")
        super().__init__()
        self._client = client
        self.prefix = prefix
        self.ttl_s = ttl_s
        self.retry_after_s = retry_after_s
        self._clock = clock
        self._description = description
        self.failures = 0
        self.skipped = 0  # operations not attempted while the circuit was open
        self.outages = 0
        self._down = False
        self._next_attempt = 0.0

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = "mlinfer:rc:",
        ttl_s: float = 0.0,
        timeout_s: float = 0.25,
        retry_after_s: float = 1.0,
        max_connections: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> RedisBackend:
        """Build the client (no connection yet: the first command connects)."""
        client = aioredis.Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0),
            max_connections=max_connections,
        )
        return cls(
            client,
            prefix=prefix,
            ttl_s=ttl_s,
            retry_after_s=retry_after_s,
            clock=clock,
            description=_redacted(url),
        )

    @property
    def available(self) -> bool:
        """False from a failure until the next successful operation."""
        return not self._down

    async def get(self, key: str) -> bytes | None:
        if not self._may_attempt():
            return None
        try:
            value: Any = await self._client.get(self.prefix + key)
        except _ERRORS as exc:
            self._failed(exc)
            return None
        self._succeeded()
        return value if isinstance(value, bytes) else None

    async def set(self, key: str, value: bytes) -> bool:
        if not self._may_attempt():
            return False
        ex: int | None = None
        px: int | None = None
        if self.ttl_s > 0 and float(self.ttl_s).is_integer():
            ex = int(self.ttl_s)
        elif self.ttl_s > 0:
            px = max(1, round(self.ttl_s * 1000))
        try:
            await self._client.set(self.prefix + key, value, ex=ex, px=px)
        except _ERRORS as exc:
            self._failed(exc)
            return False
        self._succeeded()
        return True

    async def close(self) -> None:
        with contextlib.suppress(*_ERRORS):  # closing a dead connection is not news
            await self._client.aclose()

    # -- outage bookkeeping ----------------------------------------------------------------
    def _may_attempt(self) -> bool:
        if self._down and self._clock() < self._next_attempt:
            self.skipped += 1
            return False
        return True

    def _failed(self, exc: BaseException) -> None:
        self.failures += 1
        self._next_attempt = self._clock() + self.retry_after_s
        if not self._down:
            self._down = True
            self.outages += 1
            log.warning(
                "response cache: %s unreachable (%s: %s); serving uncached until it returns",
                self._description,
                type(exc).__name__,
                exc,
            )
        self._notify_failure(self.name, exc)

    def _succeeded(self) -> None:
        if self._down:
            self._down = False
            log.info("response cache: %s reachable again; caching resumed", self._description)


def _redacted(url: str) -> str:
    """The URL without a password, for logs."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    _, _, host = rest.rpartition("@")
    return f"{scheme}://***@{host}"
