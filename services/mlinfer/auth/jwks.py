"""Signing keys from a JWKS URL: fetched with httpx, cached, refreshed on rotation.

Why each rule:

- Refresh when the cache expires (``Cache-Control: max-age`` if the IdP sends it, else a
  configured TTL) and when a token names a ``kid`` we do not hold, because that is how key
  rotation looks from here.
- Never fetch more often than ``min_refetch_interval_s``: tokens with made-up ``kid``s
  must not turn mlinfer into a load generator against the IdP. Within the interval an
  unknown ``kid`` is simply a 401.
- One fetch at a time (single flight), shared by every coroutine, event loop and thread:
  the first caller fetches, the others await its result through a
  ``concurrent.futures.Future``. Keys are published as one immutable snapshot, so readers
  take no lock.
- A failed fetch keeps the keys we had (an IdP hiccup must not log everybody out); with no
  keys at all, verification is impossible and callers get 503, not 401, because the
  token may well be fine.
- Symmetric (``oct``) keys in a JWKS are ignored: a published HMAC key would let anyone
  mint tokens. Keys whose algorithm is not allowed, or with ``use`` other than ``sig``,
  are ignored too.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import re
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt

from mlinfer.auth.errors import UnauthenticatedError, echo
from mlinfer.core.errors import UnavailableError

log = logging.getLogger(__name__)

_MAX_AGE_RE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)\"?\s*(?:,|$)", re.IGNORECASE)
_NO_CACHE_RE = re.compile(r"(?:^|,)\s*(no-cache|no-store)\s*(?:,|$)", re.IGNORECASE)


def cache_ttl(cache_control: str | None, default_s: float) -> float:
    """Seconds a JWKS response may be cached according to its ``Cache-Control`` value."""
    if not cache_control:
        return default_s
    if _NO_CACHE_RE.search(cache_control):
        return 0.0
    match = _MAX_AGE_RE.search(cache_control)
    return float(match.group(1)) if match else default_s


@dataclass(frozen=True)
class _Snapshot:
    by_kid: Mapping[str, jwt.PyJWK] = field(default_factory=dict)
    all_keys: tuple[jwt.PyJWK, ...] = ()
    loaded: bool = False  # a fetch has succeeded at least once
    expires_at: float = 0.0


class JwksCache:
    """The key set behind one JWKS URL; :meth:`get_key` returns the key for a ``kid``."""

    def __init__(
        self,
        url: str,
        *,
        allowed_algorithms: Collection[str],
        min_refetch_interval_s: float = 30.0,
        default_ttl_s: float = 300.0,
        max_ttl_s: float = 86_400.0,
        timeout_s: float = 5.0,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self._allowed = frozenset(allowed_algorithms)
        self._min_interval = min_refetch_interval_s
        self._default_ttl = default_ttl_s
        self._max_ttl = max(max_ttl_s, min_refetch_interval_s)
        self._timeout = timeout_s
        self._client = client
        self._clock = clock
        self._snapshot = _Snapshot()
        self._state_lock = threading.Lock()
        self._inflight: concurrent.futures.Future[None] | None = None
        self._fetch_task: asyncio.Task[None] | None = None  # keeps the task referenced
        self._last_attempt: float | None = None
        self.fetch_count = 0  # attempts, successful or not (tests and metrics read it)

    async def get_key(self, kid: str | None) -> jwt.PyJWK:
        """The verification key for a token's ``kid`` header (None when it has none).

        Raises :class:`UnauthenticatedError` for a ``kid`` the IdP does not publish, and
        :class:`UnavailableError` when no key set could be fetched at all.
        """
        if self._clock() >= self._snapshot.expires_at:
            await self.refresh()
        key = self._find(kid)
        if key is None and kid is not None:
            await self.refresh()  # maybe rotated; refresh() applies the minimum interval
            key = self._find(kid)
        if key is not None:
            return key
        snapshot = self._snapshot
        if not snapshot.loaded:
            raise UnavailableError(
                "token signing keys are unavailable (JWKS fetch failed); retry later",
                retry_after_s=self._min_interval,
            )
        if kid is None:
            raise UnauthenticatedError(
                f"token has no 'kid' header and the key set holds {len(snapshot.all_keys)} keys"
            )
        raise UnauthenticatedError(f"unknown key id '{echo(kid)}'")

    def _find(self, kid: str | None) -> jwt.PyJWK | None:
        snapshot = self._snapshot
        if kid is not None:
            return snapshot.by_kid.get(kid)
        return snapshot.all_keys[0] if len(snapshot.all_keys) == 1 else None

    async def refresh(self) -> None:
        """Fetch the key set now unless one was fetched within the minimum interval.

        Concurrent callers share one fetch. Never raises: failures are logged and the
        previous keys stay in use. The fetch runs as its own task, so a caller that is
        cancelled (client gone) does not cancel it for everyone waiting on it.
        """
        with self._state_lock:
            inflight = self._inflight
            if inflight is None:
                now = self._clock()
                recent = self._last_attempt is not None and (
                    now - self._last_attempt < self._min_interval
                )
                if recent:
                    return
                self._last_attempt = now
                inflight = self._inflight = concurrent.futures.Future()
                self._fetch_task = asyncio.get_running_loop().create_task(
                    self._fetch(), name="jwks-fetch"
                )
                self._fetch_task.add_done_callback(self._fetch_done)
        # shield: a cancelled waiter must not cancel the future the others wait on
        await asyncio.shield(asyncio.wrap_future(inflight))

    def _fetch_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("JWKS fetch from %s crashed", self.url, exc_info=task.exception())
        with self._state_lock:
            done, self._inflight, self._fetch_task = self._inflight, None, None
        if done is not None and not done.done():
            done.set_result(None)

    async def _fetch(self) -> None:
        self.fetch_count += 1
        try:
            if self._client is not None:
                response = await self._client.get(self.url, timeout=self._timeout)
            else:
                async with httpx.AsyncClient(timeout=self._timeout) as client:
                    response = await client.get(self.url)
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning(
                "JWKS fetch from %s failed: %s; keeping %d cached keys",
                self.url,
                exc,
                len(self._snapshot.all_keys),
            )
            return
        keys = self._parse(document)
        ttl = cache_ttl(response.headers.get("cache-control"), self._default_ttl)
        ttl = min(max(ttl, self._min_interval), self._max_ttl)
        by_kid = {k.key_id: k for k in keys if k.key_id is not None}
        self._snapshot = _Snapshot(by_kid, tuple(keys), True, self._clock() + ttl)
        log.info("JWKS from %s: %d usable keys, cached for %.0f s", self.url, len(keys), ttl)

    def _parse(self, document: Any) -> list[jwt.PyJWK]:
        raw = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(raw, list):
            log.warning("JWKS from %s has no 'keys' list", self.url)
            return []
        keys: list[jwt.PyJWK] = []
        for item in raw:
            if not isinstance(item, dict) or item.get("kty") == "oct":
                continue
            if item.get("use", "sig") != "sig":
                continue
            try:
                key = jwt.PyJWK(item)
            except Exception as exc:  # malformed JWK: pyjwt errors, KeyError, ...
                log.debug("skipping JWKS key %r: %s", item.get("kid"), exc)
                continue
            if key.algorithm_name in self._allowed:
                keys.append(key)
        if not keys:
            log.warning(
                "JWKS from %s holds no key for algorithms %s", self.url, sorted(self._allowed)
            )
        return keys
