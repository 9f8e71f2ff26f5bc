"""What the response cache needs from a store: get/set of opaque bytes, never raising.

A backend swallows its own failures (a cache must never fail a request): it answers a miss,
drops the write, counts the failure and tells its listeners, which is how the response cache
and the metrics exporter learn about an outage.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger(__name__)

FailureListener = Callable[[str, BaseException], None]
"""Called with the backend's name and the error, once per failed operation."""


class CacheBackend(Protocol):
    """A key/value store for encoded cache entries."""

    name: str
    failures: int  # failed operations since start

    async def get(self, key: str) -> bytes | None:
        """The entry under ``key``, or None (absent, expired, or the store is unreachable)."""
        ...

    async def set(self, key: str, value: bytes) -> bool:
        """Store ``value`` under ``key`` with the backend's TTL; False if dropped or failed."""
        ...

    def add_failure_listener(self, listener: FailureListener) -> None: ...

    async def close(self) -> None: ...


class FailureNotifier:
    """Listener bookkeeping shared by backends; a raising listener is logged, not propagated."""

    def __init__(self) -> None:
        self._listeners: list[FailureListener] = []

    def add_failure_listener(self, listener: FailureListener) -> None:
        self._listeners.append(listener)

    def _notify_failure(self, backend: str, error: BaseException) -> None:
        for listener in self._listeners:
            try:
                listener(backend, error)
            except Exception:  # a metrics hook must not break serving
                log.exception("response cache failure listener raised")
