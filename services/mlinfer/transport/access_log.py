"""The one-line-per-inference access log, with the same fields and outcomes on every transport.

Each transport names statuses its own way (REST: 200/404/500, gRPC: OK/NOT_FOUND/INTERNAL);
which outcome gets which name is decided here, so an unexpected exception is logged as an
internal error by all of them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from mlinfer.core.errors import MLInferError
from mlinfer.core.types import InferRequest, InferResponse
from mlinfer.dataplane import CACHE_HIT_PARAMETER
from mlinfer.observability.logs import ACCESS_LOGGER, log_request
from mlinfer.settings import Settings

Status = int | str


@dataclass(frozen=True)
class StatusNames:
    """How a transport writes each outcome in its log lines."""

    ok: Status
    internal: Status  # an unexpected exception
    cancelled: Status  # the caller went away before the answer
    error: Callable[[MLInferError], Status]


@dataclass
class AccessEntry:
    """What a transport learns while it serves one inference; logged when it ends."""

    model: str
    version: str | None
    request_id: str | None = None
    identity: str | None = None
    request: InferRequest | None = None
    response: InferResponse | None = None

    @property
    def cache_hit(self) -> bool:
        return bool(self.response and self.response.parameters.get(CACHE_HIT_PARAMETER))


class AccessLog:
    def __init__(
        self,
        protocol: str,
        statuses: StatusNames,
        *,
        enabled: bool,
        logger: logging.Logger | None = None,
    ) -> None:
        self._protocol = protocol
        self._statuses = statuses
        self._enabled = enabled
        self._logger = logger or logging.getLogger(ACCESS_LOGGER)

    @classmethod
    def from_settings(cls, protocol: str, statuses: StatusNames, settings: Settings) -> AccessLog:
        return cls(protocol, statuses, enabled=settings.access_log)

    @contextmanager
    def entry(self, model: str, version: str = "", request_id: str = "") -> Iterator[AccessEntry]:
        """Times the block and writes its line, whatever the block's outcome."""
        start = time.perf_counter()
        entry = AccessEntry(model, version or None, request_id or None)
        status = self._statuses.internal
        try:
            yield entry
            status = self._statuses.ok
        except MLInferError as exc:
            status = self._statuses.error(exc)
            raise
        except asyncio.CancelledError:
            status = self._statuses.cancelled
            raise
        finally:
            if self._enabled:
                self._write(entry, status, (time.perf_counter() - start) * 1000)

    def _write(self, entry: AccessEntry, status: Status, latency_ms: float) -> None:
        request, response = entry.request, entry.response
        log_request(
            self._logger,
            protocol=self._protocol,
            request_id=(request.id if request else entry.request_id) or None,
            model=entry.model,
            version=response.model_version if response else entry.version,
            status=status,
            latency_ms=round(latency_ms, 3),
            cache_hit=entry.cache_hit,
            priority=request.priority if request else None,
            identity=entry.identity,
        )
