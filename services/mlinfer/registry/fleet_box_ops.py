"""One box as a rollout touches it: over its public REST API and its model repository.

A deploy is the single-box deploy's staging step (``Operations.stage``) aimed at the
box: the version is materialized into the box's repository and loaded as the only
version, and the engine swaps it in once it is ready (what served keeps serving until
then, and drains after). A restore puts back the config and versions the box served
before. A box that cannot be reached raises ``BoxUnreachable``, so its rollout can
tell an offline box from a version that failed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx

from mlinfer.registry.analysis import ArmCounters, parse_counters
from mlinfer.registry.catalog import Catalog
from mlinfer.registry.errors import StorageUnavailableError
from mlinfer.registry.materialize import write_config
from mlinfer.registry.operations import Operations
from mlinfer.registry.policies import PolicyHub
from mlinfer.registry.serving import ServingClient, config_with_versions
from mlinfer.registry.settings import RegistrySettings


class BoxUnreachable(Exception):
    """The box did not answer: offline, or its network is down."""


class BoxClient:
    def __init__(
        self, box: dict[str, Any], catalog: Catalog, hub: PolicyHub, settings: RegistrySettings
    ) -> None:
        self.name = str(box["name"])
        self.url = str(box["url"])
        self.repository = Path(box["repository"])
        key = settings.serving_api_key
        self._headers = {"X-API-Key": key.get_secret_value()} if key else {}
        self.serving = ServingClient(
            self.url, key.get_secret_value() if key else None, settings.load_timeout_seconds
        )
        box_settings = settings.model_copy(update={"serving_repository": self.repository})
        self.ops = Operations(catalog, hub, self.serving, box_settings)
        self._probe_timeout = settings.fleet_probe_timeout_seconds

    async def close(self) -> None:
        await self.serving.close()

    async def probe(self) -> None:
        """Raise ``BoxUnreachable`` unless the box's server answers its liveness route."""
        try:
            async with httpx.AsyncClient(timeout=self._probe_timeout) as http:
                response = await http.get(f"{self.url}/v2/health/live", headers=self._headers)
        except httpx.HTTPError as exc:
            raise BoxUnreachable(f"box '{self.name}' unreachable at {self.url}: {exc}") from exc
        if response.status_code != 200:
            raise BoxUnreachable(f"box '{self.name}' not live: HTTP {response.status_code}")

    async def ready_versions(self, model: str) -> list[int]:
        try:
            return await self.serving.ready_versions(model)
        except StorageUnavailableError as exc:
            raise BoxUnreachable(str(exc)) from exc

    async def counters(self, model: str) -> dict[str, ArmCounters]:
        try:
            text = await self.serving.metrics(f"{self.url}/metrics")
        except StorageUnavailableError as exc:
            raise BoxUnreachable(str(exc)) from exc
        return parse_counters([text], model)

    async def deploy(self, model: str, version: int) -> dict[str, Any]:
        """Load ``version`` as the box's only version of ``model``; returns what to restore.

        Raises ``BoxUnreachable``, or the engine's reason (the box keeps what it served).
        """
        await self.probe()
        previous = [v for v in await self.ready_versions(model) if v != version]
        counters = await self.counters(model)
        config_path = self.repository / model / "config.pbtxt"
        previous_config = await asyncio.to_thread(
            lambda: config_path.read_text() if config_path.is_file() else None
        )
        try:
            await self.ops.stage(model, version, keep=[])
        except StorageUnavailableError:
            await self.probe()  # the box went away mid-deploy: offline, not failed
            raise
        return {
            "previous": previous,
            "previous_config": previous_config,
            "counters": {v: c.as_json() for v, c in counters.items()},
        }

    async def restore(self, model: str, previous: list[int], previous_config: str | None) -> None:
        """Serve what the box served before the rollout touched it."""
        await self.probe()
        if not previous or previous_config is None:  # it had no such model: take it away
            try:
                await self.serving.unload(model)
            except StorageUnavailableError as exc:
                raise BoxUnreachable(str(exc)) from exc
            return
        config = config_with_versions(previous_config, model, previous)
        await asyncio.to_thread(write_config, self.repository, model, config)
        try:
            await self.serving.load(model, config, expect=max(previous))
        except StorageUnavailableError as exc:
            raise BoxUnreachable(str(exc)) from exc
