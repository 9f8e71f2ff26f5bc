"""Deploy: the new version beside the current one, traffic moved, the old one drained.

1. claim the model (a second deploy or a rollout at the same time gets 409);
2. pin traffic to what serves now, so loading a newer version moves nothing by itself;
3. materialize and load the version next to the current one, wait until it is ready;
4. move all traffic to it and wait until every live gateway routes by the new policy;
5. drain, then unload the old version, or keep it loaded (``keep_previous``) so that a
   rollback is a policy flip.

A failure before step 4 leaves the current version serving, untouched; the deployment
is marked failed with the engine's reason.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from sqlalchemy import select, update

from mlinfer.core.errors import MLInferError
from mlinfer.registry.catalog import Catalog, deployment_dict, record
from mlinfer.registry.errors import BadRequestError
from mlinfer.registry.operations import Operations
from mlinfer.registry.schema import Deployment, Model, TrafficPolicy, utcnow

log = logging.getLogger(__name__)


class Deployer:
    def __init__(self, ops: Operations) -> None:
        self.ops = ops
        self.catalog: Catalog = ops.catalog

    async def deploy(
        self, model: str, ref: str, *, keep_previous: bool, actor: str
    ) -> dict[str, Any]:
        info = await asyncio.to_thread(self.catalog.version_info, model, ref)
        version = int(info["version"])
        if info["artifact_removed"]:
            raise BadRequestError(f"version {version} of '{model}' was garbage-collected")
        owner = f"deploy:{uuid.uuid4().hex[:16]}"
        await asyncio.to_thread(self.ops.claim, model, owner)
        try:
            current = [v for v in await self.ops.serving.ready_versions(model) if v != version]
            deployment_id = await asyncio.to_thread(
                self._begin, model, version, current, keep_previous, actor
            )
            try:
                await self._run(model, version, current, keep_previous, actor)
            except MLInferError as exc:
                await asyncio.to_thread(self._finish, deployment_id, "failed", str(exc), actor)
                raise
            except Exception as exc:
                await asyncio.to_thread(self._finish, deployment_id, "failed", repr(exc), actor)
                raise
            return await asyncio.to_thread(self._finish, deployment_id, "succeeded", "", actor)
        finally:
            await asyncio.to_thread(self.ops.release, model, owner)

    async def _run(
        self, model: str, version: int, current: list[int], keep_previous: bool, actor: str
    ) -> None:
        if current:
            arms = await asyncio.to_thread(self._arms, model)
            if not arms or any(int(v) not in current for v in arms):
                await self.ops.shift(model, {max(current): 100}, actor, "pin")
        staged = await self.ops.stage(model, version, keep=current)
        await self.ops.shift(model, {version: 100}, actor, "deploy-traffic")
        keep = [*current, version] if keep_previous else [version]
        if keep != [*current, version]:
            await self.ops.retire(model, staged, keep)
        await asyncio.to_thread(self.catalog.set_alias, model, "production", str(version), actor)

    def _arms(self, model: str) -> dict[str, int]:
        with self.catalog.sessions() as session:
            row = session.get(TrafficPolicy, self.catalog.model(session, model).id)
            return dict(row.arms) if row else {}

    def _begin(
        self,
        model: str,
        version: int,
        current: list[int],
        keep_previous: bool,
        actor: str,
    ) -> int:
        with self.catalog.sessions.begin() as session:
            row = self.catalog.model(session, model)
            deployment = Deployment(
                model_id=row.id,
                version=version,
                previous=current,
                state="running",
                keep_previous=keep_previous,
                created_by=actor,
            )
            session.add(deployment)
            session.flush()
            record(session, actor, "deploy", model, {"serving": current}, {"version": version})
            return deployment.id

    def _finish(self, deployment_id: int, state: str, reason: str, actor: str) -> dict[str, Any]:
        with self.catalog.sessions.begin() as session:
            deployment = session.get(Deployment, deployment_id)
            assert deployment is not None
            deployment.state, deployment.reason = state, reason
            deployment.finished_at = utcnow()
            model = self.catalog.model_by_id(session, deployment.model_id).name
            record(
                session,
                actor,
                f"deploy-{state}",
                model,
                {"previous": deployment.previous},
                {"version": deployment.version, "reason": reason},
            )
            return {"model": model, **deployment_dict(deployment)}

    def history(self, model: str, limit: int = 20) -> list[dict[str, Any]]:
        with self.catalog.sessions() as session:
            row = self.catalog.model(session, model)
            rows = session.scalars(
                select(Deployment)
                .where(Deployment.model_id == row.id)
                .order_by(Deployment.id.desc())
                .limit(limit)
            )
            return [deployment_dict(d) for d in rows]

    def recover(self) -> int:
        """After a crash: deploys left running are failed, their models released."""
        with self.catalog.sessions.begin() as session:
            stuck = list(session.scalars(select(Deployment).where(Deployment.state == "running")))
            for d in stuck:
                d.state, d.reason, d.finished_at = "failed", "registry restarted", utcnow()
                model = self.catalog.model_by_id(session, d.model_id)
                record(session, "registry", "deploy-failed", model.name, {}, {"id": d.id})
            # A deploy lives in one registry process; rollouts (in the database) resume.
            for owner in ("deploy:%", "rollout-start:%", "rollback"):  # none outlive a process
                session.execute(
                    update(Model).where(Model.busy_with.like(owner)).values(busy_with=None)
                )
            return len(stuck)
