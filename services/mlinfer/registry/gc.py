"""Retention: remove artifacts of old versions, keeping the newest N and anything in use.

In use means: named by an alias, an arm of the traffic policy, part of a rollout in
progress, or loaded by the serving process. Rows stay (history, audit); the artifact
goes and the version is marked ``artifact_removed``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from mlinfer.registry.catalog import Catalog, record
from mlinfer.registry.errors import BadRequestError
from mlinfer.registry.schema import Alias, Model, Rollout, TrafficPolicy, Version


def collect(
    catalog: Catalog,
    keep_last: int,
    serving: dict[str, list[int]],
    *,
    dry_run: bool,
    actor: str,
) -> list[dict[str, Any]]:
    if keep_last < 1:
        raise BadRequestError("keep_last must be >= 1")
    removed: list[dict[str, Any]] = []
    with catalog.sessions.begin() as session:
        for model in session.scalars(select(Model).order_by(Model.name)):
            versions = list(
                session.scalars(
                    select(Version)
                    .where(Version.model_id == model.id)
                    .order_by(Version.number.desc())
                )
            )
            protected = {v.number for v in versions[:keep_last]}
            protected |= set(serving.get(model.name, []))
            protected |= set(
                session.scalars(select(Alias.version).where(Alias.model_id == model.id))
            )
            policy = session.get(TrafficPolicy, model.id)
            if policy is not None:
                protected |= {int(v) for v in policy.arms}
            for rollout in session.scalars(
                select(Rollout).where(
                    Rollout.model_id == model.id, Rollout.state.in_(("running", "paused"))
                )
            ):
                protected |= {rollout.baseline, rollout.candidate}
            for version in versions:
                if version.number in protected or version.artifact_removed:
                    continue
                removed.append({"model": model.name, "version": version.number})
                if dry_run:
                    continue
                shared = session.scalar(
                    select(Version.id).where(
                        Version.sha256 == version.sha256,
                        Version.id != version.id,
                        Version.artifact_removed.is_(False),
                    )
                )
                if shared is None:  # content-addressed: another version may hold the bytes
                    catalog.store.delete(version.sha256)
                version.artifact_removed = True
                record(session, actor, "gc", model.name, {"version": version.number}, {})
    return sorted(removed, key=lambda r: (r["model"], r["version"]))
