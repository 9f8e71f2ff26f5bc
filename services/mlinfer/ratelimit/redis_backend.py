"""Token buckets in Redis, so every gateway process spends from the same budget.

One Lua script (run with EVALSHA; redis-py re-sends it on NOSCRIPT) reads, refills,
decides and writes all of a request's buckets atomically. It takes ``now`` from Redis
``TIME`` (allowed before writes since Redis 5's effect replication), so processes with
skewed clocks still agree. Every key gets a TTL of one refill time plus a second: an
expired bucket is a full bucket, so nothing is lost and idle clients cost no memory.

Redis down must not fail requests: the first error switches to the in-process
:class:`LocalRateLimiter` (each process then enforces the limits on its own), logs one
warning for the outage, and calls ``on_fallback`` for every request decided locally
(export it as a counter). Requests do not keep knocking on a dead Redis: a background
``PING`` every ``retry_interval_s`` finds it again, and then Redis is used again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from mlinfer.ratelimit.bucket import ALLOW, BucketRef, Decision, round_up_ms
from mlinfer.ratelimit.local import LocalRateLimiter

log = logging.getLogger(__name__)

# KEYS[i]: bucket keys; ARGV[2i-1], ARGV[2i]: requests per second and burst of KEYS[i].
# Returns {1, "0", 0} when admitted, {0, "<seconds to wait>", i} when KEYS[i] refuses.
_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local levels = {}
local worst, worst_i = 0, 0
for i = 1, #KEYS do
  local rate, burst = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  local state = redis.call('HMGET', KEYS[i], 'tokens', 'ts')
  local tokens, ts = tonumber(state[1]), tonumber(state[2])
  if tokens == nil or ts == nil then
    tokens = burst
  else
    tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
  end
  levels[i] = tokens
  if tokens < 1 then
    local wait = (1 - tokens) / rate
    if wait > worst then worst, worst_i = wait, i end
  end
end
if worst_i > 0 then
  return {0, string.format('%.6f', worst), worst_i}
end
for i = 1, #KEYS do
  local rate, burst = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  redis.call('HSET', KEYS[i], 'tokens', string.format('%.6f', levels[i] - 1),
             'ts', string.format('%.6f', now))
  redis.call('PEXPIRE', KEYS[i], math.ceil(burst / rate * 1000) + 1000)
end
return {1, '0', 0}
"""

_REDIS_FAILURES = (RedisError, OSError, asyncio.TimeoutError)


def redis_client(url: str, *, timeout_s: float = 0.25) -> aioredis.Redis:
    """A client that fails fast: short socket timeouts and one immediate retry.

    The single retry replaces a pooled connection that died with a restarted server;
    more retries with backoff would only make requests wait on an outage.
    """
    client: aioredis.Redis = aioredis.Redis.from_url(
        url,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry=Retry(NoBackoff(), 1),
    )
    return client


class RedisRateLimiter:
    """Buckets shared through Redis, with an in-process fallback during outages."""

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str = "mlinfer:rl:",
        fallback: LocalRateLimiter | None = None,
        retry_interval_s: float = 1.0,
        on_fallback: Callable[[], None] | None = None,
        on_redis_state: Callable[[bool], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._script = client.register_script(_SCRIPT)
        self._prefix = prefix
        self._fallback = fallback if fallback is not None else LocalRateLimiter()
        self._retry_interval = retry_interval_s
        self._on_fallback = on_fallback
        self._on_redis_state = on_redis_state
        self._clock = clock
        self._down = False
        self._last_probe = 0.0
        self._probe_task: asyncio.Task[None] | None = None
        self.outages = 0  # transitions to "down" since start
        self.fallback_decisions = 0  # requests decided in-process because Redis was down

    @property
    def redis_up(self) -> bool:
        return not self._down

    async def acquire(self, buckets: Sequence[BucketRef]) -> Decision:
        """Take a token from every bucket (in Redis, or locally while Redis is down)."""
        if not buckets:
            return ALLOW
        if self._down:
            self._maybe_probe()
            return self._decide_locally(buckets)
        args: list[Any] = []
        for bucket in buckets:
            args += [repr(bucket.rate.requests_per_second), repr(bucket.rate.capacity)]
        try:
            result = await self._script(keys=[self._prefix + b.key for b in buckets], args=args)
        except _REDIS_FAILURES as exc:
            self._mark_down(exc)
            return self._decide_locally(buckets)
        return _decision(result, buckets)

    async def aclose(self) -> None:
        """Stop probing and close the client's connections."""
        if self._probe_task is not None:
            self._probe_task.cancel()
            await asyncio.gather(self._probe_task, return_exceptions=True)
        await self._client.aclose()

    def _decide_locally(self, buckets: Sequence[BucketRef]) -> Decision:
        self.fallback_decisions += 1
        _call_hook(self._on_fallback)
        return self._fallback.acquire(buckets)

    def _mark_down(self, exc: BaseException) -> None:
        if self._down:
            return
        self._down = True
        self._last_probe = self._clock()
        self.outages += 1
        log.warning(
            "rate limiting: Redis unavailable (%s: %s); limiting in-process until it returns",
            type(exc).__name__,
            exc,
        )
        _call_hook(self._on_redis_state, False)

    def _mark_up(self) -> None:
        if not self._down:
            return
        self._down = False
        log.warning("rate limiting: Redis is back; shared limits restored")
        _call_hook(self._on_redis_state, True)

    def _maybe_probe(self) -> None:
        if self._probe_task is not None and not self._probe_task.done():
            return
        now = self._clock()
        if now - self._last_probe < self._retry_interval:
            return
        self._last_probe = now
        self._probe_task = asyncio.get_running_loop().create_task(
            self._probe(), name="ratelimit-redis-probe"
        )

    async def _probe(self) -> None:
        try:
            await self._client.ping()
        except _REDIS_FAILURES:
            return
        self._mark_up()


def _decision(result: Any, buckets: Sequence[BucketRef]) -> Decision:
    allowed, wait, index = int(result[0]), float(result[1]), int(result[2])
    if allowed:
        return ALLOW
    return Decision(False, retry_after_s=round_up_ms(wait), limit=buckets[index - 1].label)


def _call_hook(hook: Callable[..., None] | None, *args: object) -> None:
    """Metric hooks must never fail a request."""
    if hook is None:
        return
    try:
        hook(*args)
    except Exception:
        log.exception("rate limiting: metrics hook %r failed", hook)
