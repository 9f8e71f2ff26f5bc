"""Redis-backed buckets on a real redis-server: shared budgets, TTLs, outage and recovery."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import redis.asyncio as aioredis

from mlinfer.ratelimit import BucketRef, Rate, RedisRateLimiter, redis_client
from tests.support.redis_server import RedisServer


def _bucket(key: str, rps: float, burst: float | None = None) -> list[BucketRef]:
    return [BucketRef(key, Rate(requests_per_second=rps, burst=burst), "client")]


async def _wait_until(
    condition: Callable[[], Awaitable[bool]], timeout_s: float = 10.0, what: str = ""
) -> None:
    deadline = time.monotonic() + timeout_s
    while not await condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


@pytest.fixture
async def inspector(redis_server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_server.url)
    yield client
    await client.aclose()


async def test_two_limiters_share_one_budget(redis_server: RedisServer, prefix: str) -> None:
    first = RedisRateLimiter(redis_client(redis_server.url), prefix=prefix)
    second = RedisRateLimiter(redis_client(redis_server.url), prefix=prefix)
    bucket = _bucket("c:alice", rps=0.01, burst=5)
    decisions = []
    for _ in range(5):
        decisions.append(await first.acquire(bucket))
        decisions.append(await second.acquire(bucket))
    assert sum(d.allowed for d in decisions) == 5
    refused = [d for d in decisions if not d.allowed]
    assert all(90 < d.retry_after_s <= 100 for d in refused)  # one token per 100 s
    assert first.outages == second.outages == 0
    await first.aclose()
    await second.aclose()


async def test_all_or_nothing_and_key_ttl(
    redis_server: RedisServer, prefix: str, inspector: aioredis.Redis
) -> None:
    limiter = RedisRateLimiter(redis_client(redis_server.url), prefix=prefix)
    client = BucketRef("c:alice", Rate(requests_per_second=1, burst=5), "client")
    model = BucketRef("m:digits", Rate(requests_per_second=2, burst=1), "model")
    assert (await limiter.acquire([client, model])).allowed
    refused = await limiter.acquire([client, model])
    assert (refused.allowed, refused.limit) == (False, "model")
    assert 0 < refused.retry_after_s <= 0.5
    tokens = float(await inspector.hget(prefix + "c:alice", "tokens") or b"nan")
    assert 3.9 < tokens < 4.1  # one taken, none by the refused request
    ttl_ms = await inspector.pttl(prefix + "c:alice")
    assert 5000 < ttl_ms <= 6000  # refill time (5 s) + 1 s
    await limiter.aclose()


async def test_bucket_refills_with_redis_time(redis_server: RedisServer, prefix: str) -> None:
    limiter = RedisRateLimiter(redis_client(redis_server.url), prefix=prefix)
    bucket = _bucket("c:fast", rps=20, burst=1)
    assert (await limiter.acquire(bucket)).allowed
    refused = await limiter.acquire(bucket)
    assert not refused.allowed and 0 < refused.retry_after_s <= 0.05
    started = time.monotonic()

    async def admitted() -> bool:
        return (await limiter.acquire(bucket)).allowed

    await _wait_until(admitted, what="a token")
    assert time.monotonic() - started < 1.0
    await limiter.aclose()


async def test_redis_outage_falls_back_and_recovers(
    prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    fallbacks: list[None] = []
    states: list[bool] = []
    with RedisServer() as first_server:
        limiter = RedisRateLimiter(
            redis_client(first_server.url),
            prefix=prefix,
            retry_interval_s=0.05,
            on_fallback=lambda: fallbacks.append(None),
            on_redis_state=states.append,
        )
        bucket = _bucket("c:alice", rps=0.01, burst=3)
        assert (await limiter.acquire(bucket)).allowed
        first_server.kill()

        caplog.set_level(logging.WARNING, logger="mlinfer.ratelimit.redis_backend")
        decisions = [await limiter.acquire(bucket) for _ in range(5)]
        # the in-process fallback enforces the limit on its own, without exceptions
        assert [d.allowed for d in decisions] == [True, True, True, False, False]
        assert not limiter.redis_up
        assert (limiter.outages, limiter.fallback_decisions, len(fallbacks)) == (1, 5, 5)
        assert states == [False]
        warnings = [r for r in caplog.records if "Redis unavailable" in r.getMessage()]
        assert len(warnings) == 1

        # a new server on the same port: the limiter finds it and uses it again
        with RedisServer(port=first_server.port) as second_server:

            async def back() -> bool:
                await limiter.acquire(bucket)
                return limiter.redis_up

            await _wait_until(back, what="the limiter to use Redis again")
            assert states == [False, True]
            assert limiter.outages == 1
            before = limiter.fallback_decisions
            assert (await limiter.acquire(_bucket("c:bob", rps=1))).allowed
            assert limiter.fallback_decisions == before
            probe = aioredis.Redis.from_url(second_server.url)
            assert await probe.exists(prefix + "c:bob") == 1
            await probe.aclose()
        await limiter.aclose()


async def test_failing_metric_hook_does_not_fail_requests(prefix: str) -> None:
    def broken() -> None:
        raise RuntimeError("metrics down too")

    with RedisServer() as server:
        limiter = RedisRateLimiter(redis_client(server.url), prefix=prefix, on_fallback=broken)
        server.kill()
        assert (await limiter.acquire(_bucket("c:a", rps=1))).allowed
        await limiter.aclose()
