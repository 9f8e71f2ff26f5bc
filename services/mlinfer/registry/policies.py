"""Traffic policies in the database, and the long-poll hub gateways subscribe through.

The published document is every model's policy with one ETag (a hash of the content).
A gateway asks with ``If-None-Match: <its etag>``; the hub answers at once when the
document differs, else holds the request until something changes or the wait ends.
The hub remembers which etag each subscriber last confirmed, so a deploy can wait until
every live gateway routes by the new policy before it unloads the old version.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mlinfer.registry.catalog import Catalog, record
from mlinfer.registry.errors import BadRequestError
from mlinfer.registry.schema import Model, TrafficPolicy, Version, utcnow
from mlinfer.registry.traffic import PolicyError, check_policy
from mlinfer.registry.traffic import TrafficPolicy as Policy


def write_policy(
    session: Session,
    model: Model,
    arms: Mapping[str, int],
    sticky: str | None,
    actor: str,
    action: str = "split",
) -> dict[str, Any]:
    """Validate and store a model's policy (in the caller's transaction), audited."""
    known = session.scalars(select(Version.number).where(Version.model_id == model.id))
    policy = Policy(model.name, {str(k): v for k, v in arms.items()}, sticky)
    try:
        check_policy(Policy.from_json(model.name, policy.as_json()), list(known))
    except PolicyError as exc:
        raise BadRequestError(str(exc)) from None
    row = session.get(TrafficPolicy, model.id)
    before = {"arms": row.arms, "sticky": row.sticky} if row else {}
    if row is None:
        row = TrafficPolicy(model_id=model.id, arms=dict(policy.arms), sticky=sticky, revision=1)
        session.add(row)
    else:
        row.arms, row.sticky = dict(policy.arms), sticky
        row.revision += 1
        row.updated_at = utcnow()
    after = {"arms": dict(policy.arms), "sticky": sticky}
    record(session, actor, action, model.name, before, after)
    return after


def read_policies(sessions: sessionmaker[Session]) -> dict[str, dict[str, Any]]:
    with sessions() as session:
        rows = session.execute(
            select(Model.name, TrafficPolicy.arms, TrafficPolicy.sticky).join(
                TrafficPolicy, TrafficPolicy.model_id == Model.id
            )
        )
        return {name: {"arms": arms, "sticky": sticky} for name, arms, sticky in rows}


def etag_of(policies: Mapping[str, Any]) -> str:
    blob = json.dumps(policies, sort_keys=True, separators=(",", ":")).encode()
    return '"' + hashlib.sha256(blob).hexdigest()[:32] + '"'


class PolicyHub:
    def __init__(self, catalog: Catalog, subscriber_ttl_s: float) -> None:
        self._sessions = catalog.sessions
        self._changed = asyncio.Event()
        self._ttl = subscriber_ttl_s
        self._seen: dict[str, tuple[str, float]] = {}  # subscriber -> (etag, monotonic time)
        self._closing = False

    def close(self) -> None:
        """Shutting down: answer every held long-poll now (304)."""
        self._closing = True
        self.notify()

    def notify(self) -> None:
        """A policy changed: wake every held long-poll."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def snapshot(self) -> tuple[str, dict[str, dict[str, Any]]]:
        policies = await asyncio.to_thread(read_policies, self._sessions)
        return etag_of(policies), policies

    async def poll(
        self, known_etag: str | None, wait_s: float, subscriber: str | None
    ) -> tuple[str, dict[str, dict[str, Any]] | None]:
        """(etag, policies) when they differ from ``known_etag``, (etag, None) after the wait."""
        deadline = time.monotonic() + max(0.0, wait_s)
        while True:
            changed = self._changed
            etag, policies = await self.snapshot()
            if subscriber:
                self._seen[subscriber] = (known_etag or "", time.monotonic())
            if etag != known_etag:
                return etag, policies
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._closing:
                return etag, None
            # Also re-read now and then: another registry may share the database.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(changed.wait(), min(remaining, 5.0))

    def subscribers(self) -> dict[str, dict[str, Any]]:
        now = time.monotonic()
        return {
            name: {"etag": etag, "seen_s_ago": round(now - at, 3)}
            for name, (etag, at) in self._seen.items()
            if now - at <= self._ttl
        }

    async def converged(self, timeout_s: float) -> bool:
        """Whether every live subscriber confirmed the current etag within ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while True:
            etag, _ = await self.snapshot()
            now = time.monotonic()
            live = [(e, at) for e, at in self._seen.values() if now - at <= self._ttl]
            if all(e == etag for e, _ in live):
                return True
            if now >= deadline:
                return False
            await asyncio.sleep(0.02)
