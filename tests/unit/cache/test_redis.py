"""The Redis store against a real ``redis-server`` (killed and restarted for outage tests)."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from typing import cast

import numpy as np
import pytest
import redis.asyncio as aioredis

from mlinfer.cache import CacheObserver, ResponseCache
from mlinfer.cache.redis_backend import RedisBackend
from mlinfer.core.types import InferRequest, InferResponse, Tensor
from tests.support.clock import FakeClock
from tests.support.redis_server import RedisServer

PREFIX = "test:rc:"


class Failures(CacheObserver):
    def __init__(self) -> None:
        self.errors: list[str] = []

    def on_backend_failure(self, backend: str, error: BaseException) -> None:
        self.errors.append(backend)


@pytest.fixture
def server() -> Iterator[RedisServer]:
    srv = RedisServer().start()
    try:
        yield srv
    finally:
        srv.cleanup()


@pytest.fixture
async def raw(server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(server.url)
    yield client
    await client.aclose()


def request(request_id: str, value: float = 1.0) -> InferRequest:
    data = np.full((1, 3), value, dtype=np.float32)
    return InferRequest("m", [Tensor("x", "FP32", (1, 3), data)], id=request_id)


def response(request_id: str) -> InferResponse:
    out = Tensor("y", "BYTES", (1, 2), np.array([[b"a", b"bc"]], dtype=np.object_))
    return InferResponse("m", "1", [out], id=request_id)


def cache_for(
    url: str,
    clock: FakeClock | None = None,
    observer: CacheObserver | None = None,
    ttl_s: float = 60,
) -> ResponseCache:
    backend = RedisBackend.from_url(
        url, prefix=PREFIX, ttl_s=ttl_s, retry_after_s=5.0, clock=clock or FakeClock(0.0)
    )
    return ResponseCache(backend, observer=observer)


async def test_two_caches_share_entries(server: RedisServer) -> None:
    a, b = cache_for(server.url), cache_for(server.url)
    try:
        assert await b.lookup(request("1"), "1") is None
        await a.store(request("1"), "1", response("1"))
        hit = await b.lookup(request("2"), "1")
        assert hit is not None and hit.id == "2"
        assert list(hit.outputs[0].data.reshape(-1)) == [b"a", b"bc"]
        assert await b.lookup(request("3", value=2.0), "1") is None
    finally:
        await a.close()
        await b.close()


async def test_entries_are_prefixed_and_expire_via_set_ex(
    server: RedisServer, raw: aioredis.Redis
) -> None:
    cache = cache_for(server.url, ttl_s=30)
    fractional = cache_for(server.url, ttl_s=2.5)
    try:
        await cache.store(request("1"), "1", response("1"))
        await fractional.store(request("1", value=7.0), "1", response("1"))
        keys = sorted(cast(list[bytes], await raw.keys("*")))
        assert len(keys) == 2 and all(k.startswith(PREFIX.encode() + b"1:m:1:") for k in keys)
        ttls = sorted([await raw.pttl(k) for k in keys])
        assert 0 < ttls[0] <= 2500 and 2500 < ttls[1] <= 30_000
    finally:
        await cache.close()
        await fractional.close()


async def test_corrupted_entry_in_redis_is_a_miss(server: RedisServer, raw: aioredis.Redis) -> None:
    cache = cache_for(server.url)
    try:
        req = request("1")
        await raw.set(PREFIX + str(cache.key(req, "1")), b"\x80\x04\x95 a pickle, say")
        assert await cache.lookup(req, "1") is None
        assert cache.stats.model("m", "1").corrupt == 1
        assert cache.stats.backend_failures == 0
    finally:
        await cache.close()


async def test_outage_serves_uncached_then_recovers_on_the_same_port(
    server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(0.0)
    failures = Failures()
    cache = cache_for(server.url, clock, failures)
    backend = cache.backend
    assert isinstance(backend, RedisBackend)
    try:
        await cache.store(request("1"), "1", response("1"))
        assert await cache.lookup(request("2"), "1") is not None

        server.kill()
        with caplog.at_level(logging.INFO, logger="mlinfer.cache"):
            # Down: misses and dropped writes, no exceptions.
            assert await cache.lookup(request("3"), "1") is None
            assert backend.failures == 1 and not backend.available
            await cache.store(request("3"), "1", response("3"))
            assert backend.failures == 1 and backend.skipped == 1  # circuit open: not tried
            clock.now += 5.0  # the breaker lets one attempt through; Redis is still down
            assert await cache.lookup(request("4"), "1") is None
            assert backend.failures == 2
            assert cache.stats.backend_failures == 2 and failures.errors == ["redis", "redis"]
            warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
            assert len(warnings) == 1 and "unreachable" in warnings[0].getMessage()

        revived = RedisServer(port=server.port).start()  # a fresh, empty server
        try:
            with caplog.at_level(logging.INFO, logger="mlinfer.cache"):
                # Wait on the condition: each try after the breaker's window probes Redis.
                for _ in range(50):
                    clock.now += 5.0
                    await cache.store(request("5"), "1", response("5"))
                    if backend.available:
                        break
                    await asyncio.sleep(0.05)
                hit = await cache.lookup(request("6"), "1")
                assert hit is not None and hit.id == "6"
                assert any("reachable again" in r.getMessage() for r in caplog.records)
        finally:
            revived.cleanup()
    finally:
        await cache.close()


async def test_a_hanging_redis_costs_one_timeout_then_nothing() -> None:
    # A listener that accepts connections but never answers (a wedged server or a
    # blackholed route): the socket timeout bounds the first call, the breaker the rest.
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        backend = RedisBackend.from_url(
            f"redis://127.0.0.1:{port}/0", timeout_s=0.1, retry_after_s=60.0
        )
        cache = ResponseCache(backend)
        try:
            loop = asyncio.get_running_loop()
            start = loop.time()
            assert await cache.lookup(request("1"), "1") is None
            await cache.store(request("1"), "1", response("1"))
            assert await cache.lookup(request("2"), "1") is None
            assert loop.time() - start < 2.0
            assert (backend.failures, backend.skipped) == (1, 2)
        finally:
            await cache.close()
