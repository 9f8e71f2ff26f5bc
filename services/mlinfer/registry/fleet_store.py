"""Fleet rollout rows: create, read, update (each change of state audited)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from mlinfer.registry.catalog import Catalog, record
from mlinfer.registry.errors import ConflictError, RegistryNotFoundError
from mlinfer.registry.fleet_schema import FleetRollout
from mlinfer.registry.schema import utcnow

RUNNING, PARTIAL, SUCCEEDED = "running", "partial", "succeeded"
ROLLED_BACK, ABORTED, SUPERSEDED = "rolled_back", "aborted", "superseded"
# Rollouts the loop still has work for: waves, catch-ups, or rollbacks owed to boxes.
LIVE = (RUNNING, PARTIAL, ROLLED_BACK, ABORTED)
# Box fields kept for the loop only (large, or meaningless to a reader).
_PRIVATE = ("previous_config", "counters", "retry_at", "next_check_at")


def public_target(target: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in target.items() if k not in _PRIVATE}


def rollout_doc(r: FleetRollout) -> dict[str, Any]:
    targets = r.targets or {}
    summary: dict[str, int] = {}
    for t in targets.values():
        summary[t["state"]] = summary.get(t["state"], 0) + 1
    waves = 1 + max((t["wave"] for t in targets.values()), default=-1)
    return {
        "id": r.id,
        "model": r.model,
        "version": r.version,
        "state": r.state,
        "selector": r.selector,
        "waves": r.waves,
        "planned_waves": waves,
        "wave": r.wave,
        "wave_started_at": r.wave_started_at.isoformat() if r.wave_started_at else None,
        "analysis": r.analysis,
        "criteria": r.criteria,
        "reason": r.reason,
        "summary": summary,
        "boxes": {name: public_target(t) for name, t in sorted(targets.items())},
        "created_by": r.created_by,
        "created_at": r.created_at.isoformat(),
        "updated_at": r.updated_at.isoformat(),
    }


class FleetStore:
    def __init__(self, catalog: Catalog) -> None:
        self.sessions = catalog.sessions

    def create(self, values: dict[str, Any], actor: str) -> dict[str, Any]:
        """A new rollout of a model; one still running wave by wave is a conflict, and one
        only catching up offline boxes is superseded (the new one targets them anew)."""
        model = values["model"]
        with self.sessions.begin() as session:
            for old in session.scalars(
                select(FleetRollout).where(
                    FleetRollout.model == model, FleetRollout.state.in_((RUNNING, PARTIAL))
                )
            ):
                if old.state == RUNNING:
                    raise ConflictError(
                        f"fleet rollout {old.id} of '{model}' is still running: wait for it "
                        "or abort it (mlinfer registry fleet abort)"
                    )
                old.state, old.reason = SUPERSEDED, "a newer fleet rollout took over"
                old.updated_at = utcnow()
            rollout = FleetRollout(**values, state=RUNNING, wave=0, reason="", created_by=actor)
            session.add(rollout)
            session.flush()
            doc = rollout_doc(rollout)
            record(session, actor, "fleet-rollout", model, {}, _brief(doc))
            return doc

    def get(self, rollout_id: int) -> dict[str, Any]:
        with self.sessions() as session:
            return rollout_doc(self._row(session, rollout_id))

    def row(self, rollout_id: int) -> FleetRollout:
        with self.sessions() as session:
            return self._row(session, rollout_id)

    def recent(self, model: str | None, limit: int) -> list[dict[str, Any]]:
        query = select(FleetRollout).order_by(FleetRollout.id.desc()).limit(limit)
        if model:
            query = query.where(FleetRollout.model == model)
        with self.sessions() as session:
            return [rollout_doc(r) for r in session.scalars(query)]

    def live(self) -> list[FleetRollout]:
        with self.sessions() as session:
            query = select(FleetRollout).where(FleetRollout.state.in_(LIVE))
            return list(session.scalars(query.order_by(FleetRollout.id)))

    def update(self, rollout_id: int, actor: str, action: str, **values: Any) -> dict[str, Any]:
        """Write ``values``; an ``action`` is audited with the rollout before and after."""
        with self.sessions.begin() as session:
            rollout = self._row(session, rollout_id)
            before = _brief(rollout_doc(rollout))
            for key, value in values.items():
                setattr(rollout, key, value)
            rollout.updated_at = utcnow()
            session.flush()
            doc = rollout_doc(rollout)
            if action:
                record(session, actor, action, rollout.model, before, _brief(doc))
            return doc

    @staticmethod
    def _row(session: Any, rollout_id: int) -> FleetRollout:
        rollout = session.get(FleetRollout, rollout_id)
        if rollout is None:
            raise RegistryNotFoundError(f"unknown fleet rollout {rollout_id}")
        return rollout  # type: ignore[no-any-return]


def _brief(doc: dict[str, Any]) -> dict[str, Any]:
    """What the audit log keeps of a rollout: its state and each box's state."""
    return {
        "id": doc["id"],
        "version": doc["version"],
        "state": doc["state"],
        "wave": doc["wave"],
        "reason": doc["reason"],
        "boxes": {name: t["state"] for name, t in doc["boxes"].items()},
    }
