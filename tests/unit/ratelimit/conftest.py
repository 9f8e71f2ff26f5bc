"""Fixtures for rate limit tests: a fake clock and one real redis-server per module."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.support.clock import FakeClock
from tests.support.redis_server import RedisServer


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture
def prefix() -> str:
    """A key prefix of its own per test, so tests sharing one server do not share buckets."""
    return f"test:{uuid.uuid4().hex[:12]}:"
