"""Models, versions, aliases and the audit log: the registry's records (sync, in threads)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from mlinfer.registry.artifacts import ArtifactStore
from mlinfer.registry.errors import BadRequestError, ConflictError, RegistryNotFoundError
from mlinfer.registry.schema import (
    Alias,
    AuditEvent,
    Deployment,
    Model,
    Rollout,
    TrafficPolicy,
    Version,
)
from mlinfer.registry.validate import check_artifact, check_config


def record(
    session: Session,
    actor: str,
    action: str,
    model: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEvent(actor=actor, action=action, model=model, before=before or {}, after=after or {})
    )


def version_dict(v: Version) -> dict[str, Any]:
    return {
        "version": v.number,
        "sha256": v.sha256,
        "size": v.size,
        "format": v.format,
        "source": v.source,
        "metrics": v.metrics,
        "pushed_by": v.pushed_by,
        "created_at": v.created_at.isoformat(),
        "artifact_removed": v.artifact_removed,
    }


def check_name(name: str) -> None:
    if not name or "/" in name or "\\" in name or name.startswith(".") or len(name) > 200:
        raise BadRequestError(f"invalid model name '{name[:200]}'")


class Catalog:
    def __init__(self, sessions: sessionmaker[Session], store: ArtifactStore) -> None:
        self.sessions = sessions
        self.store = store

    # -- lookups (inside a session) --
    @staticmethod
    def model(session: Session, name: str) -> Model:
        model = session.scalar(select(Model).where(Model.name == name))
        if model is None:
            raise RegistryNotFoundError(f"unknown model '{name}'")
        return model

    @staticmethod
    def model_by_id(session: Session, model_id: int) -> Model:
        model = session.get(Model, model_id)
        if model is None:
            raise RegistryNotFoundError(f"unknown model id {model_id}")
        return model

    @staticmethod
    def version(session: Session, model: Model, ref: str | int) -> Version:
        """A version by number or by alias."""
        text = str(ref)
        if text.isdigit():
            number = int(text)
        else:
            alias = session.scalar(
                select(Alias).where(Alias.model_id == model.id, Alias.name == text)
            )
            if alias is None:
                raise RegistryNotFoundError(f"model '{model.name}' has no alias '{text}'")
            number = alias.version
        version = session.scalar(
            select(Version).where(Version.model_id == model.id, Version.number == number)
        )
        if version is None:
            raise RegistryNotFoundError(f"model '{model.name}' has no version {number}")
        return version

    # -- push --
    def push(
        self,
        name: str,
        fmt: str,
        config_text: str,
        artifact: Path,
        sha256: str,
        size: int,
        *,
        actor: str,
        claimed_sha256: str | None = None,
        source: str = "",
        metrics: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Validate, store the artifact, then write the row: never a row without its bytes."""
        check_name(name)
        if claimed_sha256 is not None and claimed_sha256.lower() != sha256:
            raise BadRequestError(
                f"upload corrupted: the client sent sha256 {claimed_sha256} but the received "
                f"bytes hash to {sha256}; nothing was stored"
            )
        check_artifact(artifact, fmt)
        check_config(name, fmt, config_text)
        self.store.put(artifact, sha256)
        for _ in range(3):  # two pushes at once race for the next number: retry
            try:
                return self._insert(name, fmt, config_text, sha256, size, actor, source, metrics)
            except IntegrityError:
                continue
        raise ConflictError(f"concurrent pushes of '{name}': try again")

    def _insert(
        self,
        name: str,
        fmt: str,
        config_text: str,
        sha256: str,
        size: int,
        actor: str,
        source: str,
        metrics: dict[str, Any] | None,
    ) -> dict[str, Any]:
        with self.sessions.begin() as session:
            model = session.scalar(select(Model).where(Model.name == name))
            if model is None:
                model = Model(name=name)
                session.add(model)
                session.flush()
            latest = session.scalar(
                select(func.max(Version.number)).where(Version.model_id == model.id)
            )
            version = Version(
                model_id=model.id,
                number=(latest or 0) + 1,
                sha256=sha256,
                size=size,
                format=fmt,
                config=config_text,
                source=source,
                metrics=metrics or {},
                pushed_by=actor,
            )
            session.add(version)
            session.flush()
            info = version_dict(version)
            record(session, actor, "push", name, after=info)
            return {"model": name, **info}

    # -- reading --
    def list_models(self) -> list[dict[str, Any]]:
        with self.sessions() as session:
            rows = []
            for model in session.scalars(select(Model).order_by(Model.name)):
                numbers = list(
                    session.scalars(
                        select(Version.number)
                        .where(Version.model_id == model.id)
                        .order_by(Version.number)
                    )
                )
                policy = session.get(TrafficPolicy, model.id)
                rows.append(
                    {
                        "name": model.name,
                        "versions": numbers,
                        "aliases": self._aliases(session, model),
                        "traffic": policy.arms if policy else {},
                    }
                )
            return rows

    def show(self, name: str) -> dict[str, Any]:
        with self.sessions() as session:
            model = self.model(session, name)
            versions = session.scalars(
                select(Version).where(Version.model_id == model.id).order_by(Version.number)
            )
            policy = session.get(TrafficPolicy, model.id)
            deployment = session.scalar(
                select(Deployment)
                .where(Deployment.model_id == model.id)
                .order_by(Deployment.id.desc())
            )
            return {
                "name": model.name,
                "versions": [version_dict(v) for v in versions],
                "aliases": self._aliases(session, model),
                "traffic": {"arms": policy.arms, "sticky": policy.sticky} if policy else None,
                "busy_with": model.busy_with,
                "last_deployment": deployment_dict(deployment) if deployment else None,
            }

    def version_info(self, name: str, ref: str) -> dict[str, Any]:
        with self.sessions() as session:
            version = self.version(session, self.model(session, name), ref)
            return {"model": name, **version_dict(version), "config": version.config}

    @staticmethod
    def _aliases(session: Session, model: Model) -> dict[str, int]:
        return {
            a.name: a.version
            for a in session.scalars(select(Alias).where(Alias.model_id == model.id))
        }

    # -- aliases --
    def set_alias(self, name: str, alias: str, ref: str, actor: str) -> dict[str, Any]:
        if not alias or alias.isdigit() or len(alias) > 100:
            raise BadRequestError(f"invalid alias '{alias[:100]}': a name, not a number")
        with self.sessions.begin() as session:
            model = self.model(session, name)
            version = self.version(session, model, ref)
            row = session.scalar(
                select(Alias).where(Alias.model_id == model.id, Alias.name == alias)
            )
            before = {"alias": alias, "version": row.version} if row else {}
            if row is None:
                session.add(Alias(model_id=model.id, name=alias, version=version.number))
            else:
                row.version = version.number
            after = {"alias": alias, "version": version.number}
            record(session, actor, "alias", name, before, after)
            return after

    # -- audit --
    def audit(self, name: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        with self.sessions() as session:
            query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
            if name is not None:
                query = query.where(AuditEvent.model == name)
            return [
                {
                    "id": e.id,
                    "at": e.at.isoformat(),
                    "actor": e.actor,
                    "action": e.action,
                    "model": e.model,
                    "before": e.before,
                    "after": e.after,
                }
                for e in session.scalars(query)
            ][::-1]


def deployment_dict(d: Deployment) -> dict[str, Any]:
    return {
        "id": d.id,
        "version": d.version,
        "previous": d.previous,
        "state": d.state,
        "reason": d.reason,
        "keep_previous": d.keep_previous,
        "created_by": d.created_by,
        "started_at": d.started_at.isoformat(),
        "finished_at": d.finished_at.isoformat() if d.finished_at else None,
    }


def rollout_dict(r: Rollout) -> dict[str, Any]:
    return {
        "id": r.id,
        "kind": r.kind,
        "baseline": r.baseline,
        "candidate": r.candidate,
        "state": r.state,
        "steps": r.steps,
        "step": r.step,
        "weight": r.steps[r.step] if r.kind == "canary" and r.step < len(r.steps) else None,
        "interval_s": r.interval_s,
        "analysis": r.analysis,
        "failed_checks": r.failed_checks,
        "reason": r.reason,
        "last_check": r.last_check,
        "created_by": r.created_by,
        "updated_at": r.updated_at.isoformat(),
    }
