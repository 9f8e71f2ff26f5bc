"""Fleet rollouts: one version of one model to many boxes, wave by wave.

A rollout plans its waves once (``fleet_waves.plan``) and then, every tick:

1. deploys the version to each box of the current wave (``BoxClient.deploy``): a box
   that does not answer is ``offline``, one whose engine refuses the version ``failed``;
2. after ``soak_s`` judges each deployed box on its own metrics with the canary judge
   (``fleet_judge``): the version must be ready there, and what it served since the
   deploy is held to the success rate and latency bounds;
3. gives a failed box its previous version back at once, and aborts when failed boxes
   exceed ``max_failed_percent`` of those judged: every box of this wave and the earlier
   ones returns to its previous version;
4. else moves to the next wave once no box of this one is still pending or observed.

Offline boxes do not hold a wave up. They are tried again every ``fleet_retry_seconds``
for as long as the rollout lives: one that comes back gets the version (a rollout whose
waves are done is ``partial`` until then), or its previous version back if the rollout
was rolled back meanwhile. State lives in the rollout's row, so a restarted registry
resumes where the database says.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Coroutine
from datetime import datetime, timedelta, timezone
from typing import Any

from mlinfer.registry.analysis import AnalysisConfig
from mlinfer.registry.catalog import Catalog
from mlinfer.registry.errors import (
    BadRequestError,
    ConflictError,
    RegistryNotFoundError,
    StorageUnavailableError,
)
from mlinfer.registry.fleet_box_ops import BoxClient, BoxUnreachable
from mlinfer.registry.fleet_boxes import FleetBoxes
from mlinfer.registry.fleet_judge import judge_box
from mlinfer.registry.fleet_schema import FleetRollout
from mlinfer.registry.fleet_store import (
    ABORTED,
    PARTIAL,
    ROLLED_BACK,
    RUNNING,
    FleetStore,
)
from mlinfer.registry.fleet_waves import (
    FAILED,
    OBSERVING,
    OFFLINE,
    PENDING,
    ROLLBACK_PENDING,
    SKIPPED,
    SUCCEEDED,
    FleetCriteria,
    check_selector,
    check_waves,
    must_abort,
    plan,
)
from mlinfer.registry.fleet_waves import ROLLED_BACK as BOX_ROLLED_BACK
from mlinfer.registry.policies import PolicyHub
from mlinfer.registry.schema import utcnow
from mlinfer.registry.settings import RegistrySettings
from mlinfer.registry.ticker import Ticker

log = logging.getLogger(__name__)
PARALLEL_BOXES = 8  # boxes deployed or checked at once (each is mostly waiting on the box)


def _at(text: str | None) -> datetime:
    return datetime.fromisoformat(text) if text else datetime.min.replace(tzinfo=timezone.utc)


def _later(seconds: float) -> str:
    return (utcnow() + timedelta(seconds=seconds)).isoformat()


class FleetEngine:
    def __init__(self, catalog: Catalog, hub: PolicyHub, settings: RegistrySettings) -> None:
        self.catalog = catalog
        self.hub = hub
        self.settings = settings
        self.boxes = FleetBoxes(catalog)
        self.store = FleetStore(catalog)
        self._lock = asyncio.Lock()  # the loop and the API never change a rollout at once
        self._ticker = Ticker("fleet rollouts", self.tick, settings.rollout_tick_seconds)

    # -- lifecycle --
    def start(self) -> None:
        self._ticker.start()

    async def stop(self) -> None:
        await self._ticker.stop()

    # -- starting and stopping --
    async def start_rollout(
        self,
        model: str,
        ref: str,
        *,
        selector: Any,
        waves: Any,
        analysis: AnalysisConfig,
        criteria: FleetCriteria,
        actor: str,
    ) -> dict[str, Any]:
        info = await asyncio.to_thread(self.catalog.version_info, model, ref)
        if info["artifact_removed"]:
            raise BadRequestError(f"version {info['version']} of '{model}' was garbage-collected")
        selector, waves = check_selector(selector), check_waves(waves)
        boxes = await asyncio.to_thread(self.boxes.matching)
        planned = plan(((b["name"], b["labels"]) for b in boxes), selector, waves)
        if not planned:
            raise BadRequestError(f"no enrolled box matches the selector {selector}")
        targets = {
            name: {"wave": i, "state": PENDING, "reason": "", "failed_checks": 0, "holds": 0}
            for i, names in enumerate(planned)
            for name in names
        }
        values = {
            "model": model, "version": int(info["version"]), "selector": selector,
            "waves": waves, "analysis": analysis.as_json(), "criteria": criteria.as_json(),
            "targets": targets, "wave_started_at": utcnow(),
        }  # fmt: skip
        async with self._lock:
            doc = await asyncio.to_thread(self.store.create, values, actor)
        self._ticker.wake()
        return doc

    async def abort(self, rollout_id: int, actor: str) -> dict[str, Any]:
        async with self._lock:
            rollout = await asyncio.to_thread(self.store.row, rollout_id)
            if rollout.state not in (RUNNING, PARTIAL):
                raise ConflictError(f"fleet rollout {rollout_id} is {rollout.state}, not running")
            targets = copy.deepcopy(rollout.targets)
            return await self._roll_back(rollout, targets, ABORTED, f"aborted by {actor}", actor)

    # -- the loop --
    async def tick(self) -> None:
        async with self._lock:
            for rollout in await asyncio.to_thread(self.store.live):
                await self._advance(rollout)

    async def _advance(self, r: FleetRollout) -> None:
        targets = copy.deepcopy(r.targets)
        if r.state in (ROLLED_BACK, ABORTED):
            for name, t in targets.items():
                if t["state"] == ROLLBACK_PENDING and _at(t.get("retry_at")) <= utcnow():
                    await self._restore(r, name, t)
            await self._save(r, targets)
            return
        catching_up = r.state == PARTIAL
        steps = []
        for name, t in sorted(targets.items()):
            if t["wave"] > r.wave and not catching_up:
                continue
            if t["state"] == PENDING or (
                t["state"] == OFFLINE and _at(t.get("retry_at")) <= utcnow()
            ):
                steps.append(self._deploy(r, name, t, catch_up=catching_up or t["wave"] < r.wave))
            elif t["state"] == OBSERVING and _at(t.get("next_check_at")) <= utcnow():
                steps.append(self._check(r, name, t))
            elif t.get("give_back") and _at(t.get("retry_at")) <= utcnow():
                steps.append(self._restore(r, name, t, failed=True))
        await self._bounded(steps)  # each step changes its own box's status only
        touched = [t["state"] for t in targets.values() if t["wave"] <= r.wave]
        reason = must_abort(FleetCriteria.from_json(r.criteria), touched)
        if reason and not catching_up:
            await self._roll_back(r, targets, ROLLED_BACK, f"wave {r.wave + 1}: {reason}", "")
            return
        await self._save(r, targets)
        wave = [t for t in targets.values() if t["wave"] == r.wave]
        if catching_up:
            if not any(t["state"] == OFFLINE for t in targets.values()):
                await asyncio.to_thread(
                    self.store.update,
                    r.id,
                    "registry",
                    "fleet-caught-up",
                    state="succeeded",
                    reason="every offline box caught up",
                )
        elif not any(t["state"] in (PENDING, OBSERVING) for t in wave):
            await self._next_wave(r, targets)

    async def _next_wave(self, r: FleetRollout, targets: dict[str, Any]) -> None:
        last = max(t["wave"] for t in targets.values())
        if r.wave < last:
            await asyncio.to_thread(
                self.store.update,
                r.id,
                "registry",
                "fleet-wave",
                wave=r.wave + 1,
                wave_started_at=utcnow(),
            )
            self._ticker.wake()
            return
        offline = sorted(n for n, t in targets.items() if t["state"] == OFFLINE)
        failed = sorted(n for n, t in targets.items() if t["state"] == FAILED)
        state, reason = ("succeeded", f"all {last + 1} waves done")
        if offline:
            state, reason = PARTIAL, f"waves done; offline, to catch up: {', '.join(offline)}"
        if failed:  # within max_failed_percent, so the rollout went on; they kept their version
            reason += f"; failed, kept their previous version: {', '.join(failed)}"
        await asyncio.to_thread(
            self.store.update, r.id, "registry", f"fleet-{state}", state=state, reason=reason
        )

    # -- one box --
    async def _client(self, name: str, t: dict[str, Any]) -> BoxClient | None:
        try:
            box = await asyncio.to_thread(self.boxes.get, name)
        except RegistryNotFoundError:
            t["state"], t["reason"] = SKIPPED, "the box is no longer enrolled"
            return None
        return BoxClient(box, self.catalog, self.hub, self.settings)

    async def _deploy(self, r: FleetRollout, name: str, t: dict[str, Any], catch_up: bool) -> None:
        client = await self._client(name, t)
        if client is None:
            return
        try:
            saved = await client.deploy(r.model, r.version)
        except BoxUnreachable as exc:
            await self._offline(name, t, str(exc))
            return
        except StorageUnavailableError as exc:  # the artifact store: try again next tick
            t["reason"] = f"waiting: {exc}"
            return
        except Exception as exc:  # the engine's reason (or the box's answer), kept
            t["state"], t["reason"] = FAILED, f"deploy failed: {getattr(exc, 'message', exc)}"
            await asyncio.to_thread(self.boxes.seen, name)
            return
        finally:
            await client.close()
        await asyncio.to_thread(self.boxes.seen, name)
        if "previous" not in t:  # a box deployed again after an outage keeps its first past
            t.update(saved)
        t["deployed"] = True
        t["deployed_at"] = utcnow().isoformat()
        if catch_up:
            t["state"], t["reason"], t["caught_up"] = SUCCEEDED, "caught up: ready", True
            return
        t["state"], t["reason"] = OBSERVING, "deployed; judging its metrics"
        t["next_check_at"] = _later(FleetCriteria.from_json(r.criteria).soak_s)

    async def _check(self, r: FleetRollout, name: str, t: dict[str, Any]) -> None:
        analysis = AnalysisConfig.from_json(r.analysis)
        criteria = FleetCriteria.from_json(r.criteria)
        client = await self._client(name, t)
        if client is None:
            return
        try:
            ready = await client.ready_versions(r.model)
            now = await client.counters(r.model)
        except BoxUnreachable as exc:
            await self._offline(name, t, str(exc))
            return
        finally:
            await client.close()
        t["next_check_at"] = _later(criteria.soak_s)
        judge_box(t, r.version, ready, now, analysis, criteria)
        if t["state"] == FAILED:  # a failed box does not wait for the rollout to end
            await self._restore(r, name, t, failed=True)

    async def _offline(self, name: str, t: dict[str, Any], why: str) -> None:
        t["state"], t["reason"] = OFFLINE, why
        t["retry_at"] = _later(self.settings.fleet_retry_seconds)
        await asyncio.to_thread(self.boxes.seen, name, why)

    async def _restore(
        self, r: FleetRollout, name: str, t: dict[str, Any], failed: bool = False
    ) -> None:
        """Give the box back what it served. A ``failed`` box stays failed (the abort share
        counts it) and is tried again until that worked (``give_back``)."""
        client = await self._client(name, t)
        if client is None:
            return
        try:
            await client.restore(r.model, t.get("previous") or [], t.get("previous_config"))
        except Exception as exc:  # unreachable, or the load failed: retried; what serves serves
            why = f"rollback waits for the box: {exc}"
            if isinstance(exc, BoxUnreachable):
                await asyncio.to_thread(self.boxes.seen, name, str(exc))
            t["retry_at"] = _later(self.settings.fleet_retry_seconds)
            if failed:
                t["give_back"], t["rollback"] = True, why
            else:
                t["state"], t["reason"] = ROLLBACK_PENDING, why
            return
        finally:
            await client.close()
        await asyncio.to_thread(self.boxes.seen, name)
        back = ",".join(str(v) for v in t.get("previous") or []) or "none"
        t["deployed"], t["give_back"], t["rollback"] = False, False, f"back on version {back}"
        if not failed:
            t["state"], t["reason"] = BOX_ROLLED_BACK, f"back on version {back}"

    async def _roll_back(
        self, r: FleetRollout, targets: dict[str, Any], state: str, reason: str, actor: str
    ) -> dict[str, Any]:
        """Every box this rollout changed returns to its previous version; the rest are
        left alone. Boxes that cannot be reached get theirs when they come back."""
        for name, t in sorted(targets.items(), key=lambda kv: -kv[1]["wave"]):
            if t.get("deployed"):
                await self._restore(r, name, t)
            elif t["state"] in (PENDING, OFFLINE):
                t["state"], t["reason"] = SKIPPED, "the rollout ended before this box's turn"
        return await asyncio.to_thread(
            self.store.update,
            r.id,
            actor or "registry",
            f"fleet-{state.replace('_', '-')}",
            state=state,
            reason=reason,
            targets=targets,
        )

    @staticmethod
    async def _bounded(steps: list[Coroutine[Any, Any, None]]) -> None:
        """Run box steps side by side, at most ``PARALLEL_BOXES`` at once."""
        gate = asyncio.Semaphore(PARALLEL_BOXES)

        async def one(step: Coroutine[Any, Any, None]) -> None:
            async with gate:
                await step

        await asyncio.gather(*(one(step) for step in steps))

    async def _save(self, r: FleetRollout, targets: dict[str, Any]) -> None:
        if targets != r.targets:
            await asyncio.to_thread(self.store.update, r.id, "", "", targets=targets)
            r.targets = targets
