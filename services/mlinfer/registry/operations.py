"""The steps deploys and rollouts are made of: claim, stage, shift traffic, retire.

Each is idempotent enough to be repeated after a crash: staging re-verifies what is on
disk, a policy write is a plain update, retiring loads the set of versions to keep.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update

from mlinfer.registry.catalog import Catalog
from mlinfer.registry.errors import ConflictError
from mlinfer.registry.materialize import (
    discard,
    materialize,
    put_back,
    restore_config,
    write_config,
)
from mlinfer.registry.policies import PolicyHub, write_policy
from mlinfer.registry.schema import Model, TrafficPolicy
from mlinfer.registry.serving import ServingClient, config_with_versions
from mlinfer.registry.settings import RegistrySettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Staged:
    model: str
    version: int
    config_text: str


class Operations:
    def __init__(
        self,
        catalog: Catalog,
        hub: PolicyHub,
        serving: ServingClient,
        settings: RegistrySettings,
    ) -> None:
        self.catalog = catalog
        self.hub = hub
        self.serving = serving
        self.settings = settings

    # -- ownership: one deploy or rollout per model --
    def claim(self, model: str, owner: str) -> None:
        with self.catalog.sessions.begin() as session:
            self.catalog.model(session, model)  # 404 before 409
            result = session.execute(
                update(Model)
                .where(Model.name == model, Model.busy_with.is_(None))
                .values(busy_with=owner)
            )
        if getattr(result, "rowcount", 0) != 1:
            raise ConflictError(
                f"model '{model}' is busy with another deploy or rollout: wait for it to "
                "finish (mlinfer registry status) or abort it"
            )

    def release(self, model: str, owner: str) -> None:
        with self.catalog.sessions.begin() as session:
            session.execute(
                update(Model)
                .where(Model.name == model, Model.busy_with == owner)
                .values(busy_with=None)
            )

    # -- staging: the version on disk and loaded next to what serves --
    async def stage(self, model: str, ref: str | int, keep: list[int]) -> Staged:
        """Materialize and load ``ref`` beside ``keep``; raises the engine's reason on failure."""
        info = await asyncio.to_thread(self.catalog.version_info, model, str(ref))
        version = int(info["version"])
        repository = self.settings.serving_repository
        existed = (repository / model / str(version)).exists()
        displaced = await asyncio.to_thread(
            materialize, self.catalog.store, repository, model, version, info["sha256"],
            info["format"],
        )  # fmt: skip
        config = config_with_versions(info["config"], model, [*keep, version])
        previous = await asyncio.to_thread(write_config, repository, model, config)
        try:
            await self.serving.load(model, config, expect=version)
        except Exception:
            # The engine keeps serving what it had; the repository goes back to what it was.
            if displaced is not None or not existed:
                await asyncio.to_thread(put_back, repository, model, version, displaced)
            await asyncio.to_thread(restore_config, repository, model, previous)
            if keep and previous is not None:
                try:  # the old set again (clears the failed version from the index)
                    old = config_with_versions(previous, model, keep)
                    await self.serving.load(model, old, expect=max(keep))
                except Exception as exc:  # what serves keeps serving: log, do not mask
                    log.warning("restoring the version set of %s failed: %s", model, exc)
            raise
        await asyncio.to_thread(discard, displaced)
        return Staged(model, version, info["config"])

    # -- traffic --
    async def shift(
        self, model: str, arms: Mapping[int, int], actor: str, action: str
    ) -> dict[str, Any]:
        """Write the policy, wake subscribers, and wait until live gateways route by it."""

        def write() -> dict[str, Any]:
            with self.catalog.sessions.begin() as session:
                row = self.catalog.model(session, model)
                current = session.get(TrafficPolicy, row.id)
                sticky = current.sticky if current else None
                return write_policy(
                    session, row, {str(v): w for v, w in arms.items()}, sticky, actor, action
                )

        after = await asyncio.to_thread(write)
        self.hub.notify()
        if not await self.hub.converged(self.settings.converge_timeout_seconds):
            log.warning("not every gateway confirmed the new policy of %s in time", model)
        return after

    async def retire(self, model: str, staged: Staged, keep: list[int]) -> None:
        """After the drain, load only ``keep`` (the engine drains what it unloads)."""
        await asyncio.sleep(self.settings.drain_seconds)
        config = config_with_versions(staged.config_text, model, keep)
        await asyncio.to_thread(write_config, self.settings.serving_repository, model, config)
        await self.serving.load(model, config, expect=max(keep))
