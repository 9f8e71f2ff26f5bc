"""A gateway's side of traffic policies: long-poll the registry, keep the last good copy.

On start the last policies persisted locally are applied before the registry is asked,
so a gateway that restarts while the registry is down routes as it did. Each answer
replaces the router's policies whole and is written to the cache file atomically.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import tempfile
from typing import Any

import httpx

from mlinfer.registry.settings import RegistrySettings
from mlinfer.registry.traffic import PolicyError, TrafficPolicy, TrafficRouter

log = logging.getLogger(__name__)


def policies_from_json(doc: dict[str, Any]) -> list[TrafficPolicy]:
    return [TrafficPolicy.from_json(name, p) for name, p in doc.items()]


class PolicySubscriber:
    def __init__(self, settings: RegistrySettings, router: TrafficRouter, url: str) -> None:
        self._settings = settings
        self._router = router
        self._url = url.rstrip("/") + "/v1/traffic/policies"
        self._cache = settings.policy_cache
        self.etag: str | None = None
        self.updates = 0  # policy documents applied (tests wait on it)
        self._task: asyncio.Task[None] | None = None
        key = settings.api_key
        self._headers = {"X-API-Key": key.get_secret_value()} if key else {}
        if settings.subscriber_name:
            self._headers["X-Subscriber"] = settings.subscriber_name

    def name_as(self, name: str) -> None:
        """The identity the registry counts this gateway under (default: its address)."""
        self._headers.setdefault("X-Subscriber", name)

    def start(self) -> None:
        self._load_cache()
        self._task = asyncio.create_task(self._run(), name="policy-subscriber")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _load_cache(self) -> None:
        try:
            doc = json.loads(self._cache.read_text())
            self._router.replace(policies_from_json(doc["policies"]))
            self.etag = doc.get("etag")
        except FileNotFoundError:
            return
        except (ValueError, KeyError, TypeError, PolicyError) as exc:
            log.warning("ignoring unreadable policy cache %s: %s", self._cache, exc)

    async def _run(self) -> None:
        wait = self._settings.poll_wait_seconds
        failing = False
        async with httpx.AsyncClient(timeout=wait + 10) as client:
            while True:
                try:
                    await self._poll(client, wait)
                    if failing:
                        log.warning("registry reachable again at %s", self._url)
                    failing = False
                except (httpx.HTTPError, ValueError, KeyError, PolicyError) as exc:
                    if not failing:  # once per outage, not once per retry
                        log.warning("registry unreachable (%s); keeping the last policies", exc)
                    failing = True
                    await asyncio.sleep(self._settings.retry_seconds)

    async def _poll(self, client: httpx.AsyncClient, wait: float) -> None:
        headers = dict(self._headers)
        if self.etag:
            headers["If-None-Match"] = self.etag
        response = await client.get(self._url, params={"wait": wait}, headers=headers)
        if response.status_code == 304:
            return
        response.raise_for_status()
        doc = response.json()
        self._router.replace(policies_from_json(doc["policies"]))
        self.etag = doc["etag"]
        self.updates += 1
        await asyncio.to_thread(self._persist, doc)

    def _persist(self, doc: dict[str, Any]) -> None:
        self._cache.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self._cache.parent, prefix=".policies-")
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f)
        os.replace(tmp, self._cache)
