"""The response cache the data plane consults around inference, whatever the store.

The caller decides per model whether to use it (``ModelSpec.response_cache``, set at load)
and calls it after resolving the model version and before queueing the request, so a hit
skips batching and execution entirely, as in Triton. Nothing here raises into the request
path: store failures, corrupt entries and even bugs in a backend degrade to uncached serving.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from mlinfer.cache.backend import CacheBackend
from mlinfer.cache.codec import CorruptEntryError, decode_outputs, encode_outputs
from mlinfer.cache.key import CacheKey, KeyHash, default_key_hash, make_key
from mlinfer.cache.stats import CacheObserver, CacheStats
from mlinfer.core.types import InferRequest, InferResponse

log = logging.getLogger(__name__)

DEFAULT_MAX_ENTRY_BYTES = 4 * 1024 * 1024


class ResponseCache:
    """Look up and store whole responses keyed by :func:`mlinfer.cache.key.make_key`."""

    def __init__(
        self,
        backend: CacheBackend,
        *,
        max_entry_bytes: int = DEFAULT_MAX_ENTRY_BYTES,
        key_hash: KeyHash | None = None,
        observer: CacheObserver | None = None,
        clock_ns: Callable[[], int] = time.perf_counter_ns,
    ) -> None:
        self.backend = backend
        self.max_entry_bytes = max_entry_bytes
        self.key_hash: KeyHash = key_hash or default_key_hash()
        self.stats = CacheStats()
        self._observer = observer or CacheObserver()
        self._clock_ns = clock_ns
        self._warned_corrupt = False
        self._warned_internal = False
        backend.add_failure_listener(self._on_backend_failure)

    def key(self, request: InferRequest, version: str) -> CacheKey:
        """The request's key; pass it to :meth:`lookup` and :meth:`store` to hash only once."""
        return make_key(request, version, self.key_hash)

    async def lookup(
        self, request: InferRequest, version: str, *, key: CacheKey | None = None
    ) -> InferResponse | None:
        """The cached response with the new request's id, or None (never raises).

        ``version`` is the resolved version (what the data plane will run), never "".
        """
        start = self._clock_ns()
        model = request.model_name
        counters = self.stats.model(model, version)
        response: InferResponse | None = None
        try:
            key = key or self.key(request, version)
            entry = await self.backend.get(str(key))
            if entry is not None:
                response = InferResponse(model, version, decode_outputs(entry), id=request.id)
        except CorruptEntryError as exc:
            counters.corrupt += 1
            self._corrupt_entry(exc)
        except Exception:
            self._internal_error("lookup")
        elapsed = self._clock_ns() - start
        if response is None:
            counters.misses += 1
            counters.miss_ns += elapsed
            self._notify(self._observer.on_miss, model, version, elapsed)
        else:
            counters.hits += 1
            counters.hit_ns += elapsed
            self._notify(self._observer.on_hit, model, version, elapsed)
        return response

    async def store(
        self,
        request: InferRequest,
        version: str,
        response: InferResponse,
        *,
        key: CacheKey | None = None,
    ) -> None:
        """Store ``response`` for ``request`` (dropped when too large or the store fails)."""
        start = self._clock_ns()
        model = request.model_name
        counters = self.stats.model(model, version)
        try:
            key = key or self.key(request, version)
            entry = encode_outputs(response.outputs)
            if len(entry) > self.max_entry_bytes:
                counters.too_large += 1
                return
            if not await self.backend.set(str(key), entry):
                return
        except Exception:
            self._internal_error("store")
            return
        elapsed = self._clock_ns() - start
        counters.inserts += 1
        counters.insert_ns += elapsed
        self._notify(self._observer.on_insert, model, version, elapsed)

    async def get_or_infer(
        self,
        request: InferRequest,
        version: str,
        infer: Callable[[], Awaitable[InferResponse]],
    ) -> tuple[InferResponse, bool]:
        """Serve from the cache, else run ``infer`` and store its response; (response, hit).

        Errors from ``infer`` propagate unchanged and are not cached.
        """
        key = self.key(request, version)
        cached = await self.lookup(request, version, key=key)
        if cached is not None:
            return cached, True
        response = await infer()
        await self.store(request, version, response, key=key)
        return response, False

    async def close(self) -> None:
        await self.backend.close()

    # -- failure handling ------------------------------------------------------------------
    def _on_backend_failure(self, backend: str, error: BaseException) -> None:
        self.stats.backend_failures += 1
        self._notify(self._observer.on_backend_failure, backend, error)

    def _internal_error(self, operation: str) -> None:
        # A bug (in a backend or here) must not fail requests; log it loudly once.
        self.stats.backend_failures += 1
        if not self._warned_internal:
            self._warned_internal = True
            log.exception("response cache %s failed; serving uncached", operation)
        else:
            log.debug("response cache %s failed", operation, exc_info=True)

    def _corrupt_entry(self, exc: CorruptEntryError) -> None:
        # Expected after a format upgrade or with a shared store; warn once, count always.
        level = logging.DEBUG if self._warned_corrupt else logging.WARNING
        self._warned_corrupt = True
        log.log(level, "response cache: ignoring an unreadable entry (%s)", exc)

    @staticmethod
    def _notify(hook: Callable[..., None], *args: object) -> None:
        try:
            hook(*args)
        except Exception:
            log.exception("response cache observer raised")
