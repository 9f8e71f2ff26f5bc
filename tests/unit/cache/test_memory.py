from __future__ import annotations

import pytest

from mlinfer.cache.memory import MemoryBackend
from tests.support.clock import FakeClock


async def test_evicts_least_recently_used_by_count() -> None:
    lru = MemoryBackend(max_bytes=1 << 20, max_entries=2)
    await lru.set("a", b"1")
    await lru.set("b", b"2")
    assert await lru.get("a") == b"1"  # "a" is now the most recent
    await lru.set("c", b"3")
    assert await lru.get("b") is None
    assert await lru.get("a") == b"1"
    assert await lru.get("c") == b"3"
    assert (len(lru), lru.evictions) == (2, 1)


async def test_evicts_by_bytes_counting_keys_and_values() -> None:
    lru = MemoryBackend(max_bytes=30, max_entries=100)
    await lru.set("k1", b"x" * 8)  # 10 bytes
    await lru.set("k2", b"x" * 8)
    await lru.set("k3", b"x" * 8)
    assert lru.bytes_used == 30
    await lru.set("k4", b"x" * 13)  # 15 bytes: two oldest must go
    assert await lru.get("k1") is None
    assert await lru.get("k2") is None
    assert await lru.get("k3") is not None
    assert lru.bytes_used == 25
    assert lru.evictions == 2


async def test_entry_larger_than_the_cache_is_refused_without_evicting() -> None:
    lru = MemoryBackend(max_bytes=20, max_entries=10)
    assert await lru.set("a", b"small")
    assert not await lru.set("b", b"x" * 100)
    assert await lru.get("a") == b"small"
    assert await lru.get("b") is None


async def test_replacing_a_key_updates_the_byte_count() -> None:
    lru = MemoryBackend(max_bytes=100, max_entries=10)
    await lru.set("a", b"x" * 50)
    await lru.set("a", b"y" * 10)
    assert lru.bytes_used == 11
    assert await lru.get("a") == b"y" * 10
    assert len(lru) == 1


async def test_ttl_with_an_injected_clock() -> None:
    clock = FakeClock()
    lru = MemoryBackend(max_bytes=1000, max_entries=10, ttl_s=60, clock=clock)
    await lru.set("a", b"1")
    clock.now += 59.9
    assert await lru.get("a") == b"1"  # reads do not extend the TTL
    clock.now += 0.1
    assert await lru.get("a") is None
    assert (len(lru), lru.bytes_used, lru.expirations) == (0, 0, 1)


async def test_expired_cold_entries_are_swept_on_write() -> None:
    clock = FakeClock()
    lru = MemoryBackend(max_bytes=1000, max_entries=10, ttl_s=10, clock=clock)
    await lru.set("old1", b"1")
    await lru.set("old2", b"2")
    clock.now += 11
    await lru.set("new", b"3")
    assert len(lru) == 1
    assert lru.expirations == 2


async def test_no_ttl_means_no_expiry() -> None:
    clock = FakeClock()
    lru = MemoryBackend(max_bytes=1000, max_entries=10, ttl_s=0, clock=clock)
    await lru.set("a", b"1")
    clock.now += 1e9
    assert await lru.get("a") == b"1"


def test_bad_limits_are_rejected() -> None:
    with pytest.raises(ValueError):
        MemoryBackend(max_bytes=0, max_entries=1)
    with pytest.raises(ValueError):
        MemoryBackend(max_bytes=1, max_entries=1, ttl_s=-1)
