"""The registry assembled: database, artifacts, policies, deploys, rollouts (one object)."""

from __future__ import annotations

import asyncio
import logging

from mlinfer.registry.artifacts import create_store
from mlinfer.registry.catalog import Catalog
from mlinfer.registry.database import open_database
from mlinfer.registry.deploy import Deployer
from mlinfer.registry.fleet import FleetEngine
from mlinfer.registry.operations import Operations
from mlinfer.registry.policies import PolicyHub
from mlinfer.registry.rollouts import RolloutEngine
from mlinfer.registry.serving import ServingClient
from mlinfer.registry.settings import RegistrySettings

log = logging.getLogger(__name__)


class Registry:
    def __init__(self, settings: RegistrySettings, serving_url: str | None = None) -> None:
        self.settings = settings
        self.catalog = Catalog(open_database(settings.database_url), create_store(settings))
        self.hub = PolicyHub(self.catalog, settings.subscriber_ttl_seconds)
        url = serving_url or settings.serving_url or "http://127.0.0.1:8000"
        key = settings.serving_api_key
        self.serving = ServingClient(
            url, key.get_secret_value() if key else None, settings.load_timeout_seconds
        )
        self.ops = Operations(self.catalog, self.hub, self.serving, settings)
        self.deployer = Deployer(self.ops)
        metrics = settings.metrics_urls or [url.rstrip("/") + "/metrics"]
        self.rollouts = RolloutEngine(self.ops, metrics, settings.rollout_tick_seconds)
        self.fleet = FleetEngine(self.catalog, self.hub, settings)

    async def start(self) -> None:
        """Fail deploys a crash interrupted; resume rollouts from the database."""
        stuck = await asyncio.to_thread(self.deployer.recover)
        if stuck:
            log.warning("%d deploy(s) interrupted by a restart were marked failed", stuck)
        self.rollouts.start()
        self.fleet.start()

    async def stop(self) -> None:
        await self.rollouts.stop()
        await self.fleet.stop()
        await self.serving.close()
