"""Enrolled boxes: each an ``mlinfer serve`` (or a Triton) with its own model repository.

A box is enrolled under a unique name with its REST URL, the path its model repository
has as the registry reaches it (local disk, or a volume the registry mounts), and labels
(site, hardware, ...) that rollouts select on. Enrolling a name again updates the box.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mlinfer.registry.catalog import Catalog, record
from mlinfer.registry.errors import BadRequestError, RegistryNotFoundError
from mlinfer.registry.fleet_schema import FleetBox
from mlinfer.registry.fleet_waves import check_selector, matches
from mlinfer.registry.schema import utcnow

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$")
AUDIT_MODEL = "(fleet)"  # audit events about boxes name no model


def box_dict(box: FleetBox) -> dict[str, Any]:
    return {
        "name": box.name,
        "url": box.url,
        "repository": box.repository,
        "labels": box.labels,
        "enrolled_by": box.enrolled_by,
        "enrolled_at": box.enrolled_at.isoformat(),
        "last_seen": box.last_seen.isoformat() if box.last_seen else None,
        "last_error": box.last_error,
    }


class FleetBoxes:
    def __init__(self, catalog: Catalog) -> None:
        self.sessions = catalog.sessions

    def enroll(
        self, name: str, url: str, repository: str, labels: Any, actor: str
    ) -> dict[str, Any]:
        if not _NAME.match(name):
            raise BadRequestError(
                f"box name '{name}' must be 1-200 letters, digits, '_', '.', ':' or '-'"
            )
        if not url.startswith(("http://", "https://")):
            raise BadRequestError(f"box url must be http(s)://host:port, got '{url}'")
        if not repository:
            raise BadRequestError("a box needs the path of its model repository")
        labels = check_selector(labels, "labels")
        with self.sessions.begin() as session:
            box = session.scalar(select(FleetBox).where(FleetBox.name == name))
            before = box_dict(box) if box else {}
            if box is None:
                box = FleetBox(name=name, enrolled_by=actor, last_error="")
                session.add(box)
            box.url, box.repository, box.labels = url.rstrip("/"), repository, labels
            session.flush()
            after = box_dict(box)
            record(session, actor, "fleet-enroll", AUDIT_MODEL, before, after)
            return after

    def remove(self, name: str, actor: str) -> None:
        with self.sessions.begin() as session:
            box = self._get(session, name)
            record(session, actor, "fleet-remove", AUDIT_MODEL, box_dict(box), {})
            session.delete(box)

    def get(self, name: str) -> dict[str, Any]:
        with self.sessions() as session:
            return box_dict(self._get(session, name))

    def matching(self, selector: dict[str, str] | None = None) -> list[dict[str, Any]]:
        with self.sessions() as session:
            rows = session.scalars(select(FleetBox).order_by(FleetBox.name))
            return [box_dict(b) for b in rows if matches(b.labels, selector or {})]

    def seen(self, name: str, error: str = "") -> None:
        """A box answered (``error`` empty) or could not be reached (``error`` says why)."""
        with self.sessions.begin() as session:
            box = session.scalar(select(FleetBox).where(FleetBox.name == name))
            if box is None:
                return
            if not error:
                box.last_seen = utcnow()
            box.last_error = error

    @staticmethod
    def _get(session: Session, name: str) -> FleetBox:
        box = session.scalar(select(FleetBox).where(FleetBox.name == name))
        if box is None:
            raise RegistryNotFoundError(f"unknown box '{name}' (mlinfer registry fleet boxes)")
        return box
