"""Canary and A/B rollouts: state in the database, one loop that advances them.

A canary walks ``steps`` (candidate weights, e.g. 5, 25, 50, 100). Every ``interval_s`` it
judges the candidate against the baseline on what the gateways counted since the step
began; a pass moves to the next step (the last promotes), a hold waits for traffic, a
failure counts, and ``threshold`` failures roll back in one step. Everything the loop
needs is in the ``rollouts`` row, so a registry killed mid-rollout picks up where the
database says when it starts again. An A/B rollout keeps its split until a person
promotes or rolls back, and reports per arm.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select

from mlinfer.core.errors import MLInferError
from mlinfer.registry.analysis import AnalysisConfig, ArmCounters, judge, parse_counters
from mlinfer.registry.catalog import Catalog, record, rollout_dict
from mlinfer.registry.errors import BadRequestError, RegistryNotFoundError
from mlinfer.registry.operations import Operations, Staged
from mlinfer.registry.schema import Rollout, utcnow
from mlinfer.registry.ticker import Ticker

log = logging.getLogger(__name__)
ACTIVE = ("running", "paused")


def check_steps(steps: list[int]) -> list[int]:
    if not steps or any(not isinstance(s, int) or not 0 < s <= 100 for s in steps):
        raise BadRequestError("canary steps must be integer weights in 1..100, e.g. [5, 25, 50]")
    if steps != sorted(set(steps)):
        raise BadRequestError(f"canary steps must increase: {steps}")
    return steps


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)  # SQLite drops the zone


class RolloutEngine:
    def __init__(self, ops: Operations, metrics_urls: list[str], tick_s: float) -> None:
        self.ops = ops
        self.catalog: Catalog = ops.catalog
        self._metrics_urls = metrics_urls
        self._ticker = Ticker("rollout checks", self.tick, tick_s)
        self._warned: set[int] = set()  # rollouts whose check failure was logged

    # -- lifecycle --
    def start(self) -> None:
        self._ticker.start()

    async def stop(self) -> None:
        await self._ticker.stop()

    # -- starting --
    async def start_rollout(
        self,
        model: str,
        ref: str,
        *,
        kind: str,
        steps: list[int],
        interval_s: float,
        analysis: AnalysisConfig,
        keep_previous: bool,
        actor: str,
    ) -> dict[str, Any]:
        steps = check_steps(steps)
        if interval_s <= 0:
            raise BadRequestError("interval_s must be > 0")
        serving = await self.ops.serving.ready_versions(model)
        info = await asyncio.to_thread(self.catalog.version_info, model, ref)
        candidate = int(info["version"])
        baseline_versions = [v for v in serving if v != candidate]
        if not baseline_versions:
            raise BadRequestError(
                f"'{model}' has no serving version to compare with: deploy one first"
            )
        baseline = max(baseline_versions)
        owner = f"rollout-start:{candidate}"
        await asyncio.to_thread(self.ops.claim, model, owner)
        try:
            await self.ops.shift(model, {baseline: 100}, actor, "pin")
            await self.ops.stage(model, candidate, keep=[baseline])
            counters = await self._counters(model)
            rollout_id = await asyncio.to_thread(
                self._create, model, kind, baseline, candidate, steps, interval_s, analysis,
                keep_previous, actor, counters, owner,
            )  # fmt: skip
            await self.ops.shift(
                model, {baseline: 100 - steps[0], candidate: steps[0]}, actor, f"{kind}-step"
            )
        except BaseException:
            await asyncio.to_thread(self.ops.release, model, owner)
            raise
        return await asyncio.to_thread(self.get, rollout_id)

    def _create(
        self,
        model: str,
        kind: str,
        baseline: int,
        candidate: int,
        steps: list[int],
        interval_s: float,
        analysis: AnalysisConfig,
        keep_previous: bool,
        actor: str,
        counters: dict[str, ArmCounters],
        owner: str,
    ) -> int:
        with self.catalog.sessions.begin() as session:
            row = self.catalog.model(session, model)
            rollout = Rollout(
                model_id=row.id,
                kind=kind,
                baseline=baseline,
                candidate=candidate,
                state="running",
                steps=steps,
                step=0,
                interval_s=interval_s,
                analysis=analysis.as_json(),
                step_counters={v: c.as_json() for v, c in counters.items()},
                keep_previous=keep_previous,
                created_by=actor,
                next_check_at=utcnow() + timedelta(seconds=interval_s),
            )
            session.add(rollout)
            session.flush()
            if row.busy_with == owner:
                row.busy_with = f"rollout:{rollout.id}"
            record(session, actor, kind, model, {"baseline": baseline}, rollout_dict(rollout))
            return rollout.id

    # -- reading --
    def get(self, rollout_id: int) -> dict[str, Any]:
        with self.catalog.sessions() as session:
            rollout = session.get(Rollout, rollout_id)
            if rollout is None:
                raise RegistryNotFoundError(f"unknown rollout {rollout_id}")
            return rollout_dict(rollout)

    def latest(self, model: str) -> dict[str, Any] | None:
        with self.catalog.sessions() as session:
            row = self.catalog.model(session, model)
            rollout = session.scalar(
                select(Rollout).where(Rollout.model_id == row.id).order_by(Rollout.id.desc())
            )
            return rollout_dict(rollout) if rollout else None

    def _active(self, model: str) -> Rollout:
        with self.catalog.sessions() as session:
            row = self.catalog.model(session, model)
            rollout = session.scalar(
                select(Rollout)
                .where(Rollout.model_id == row.id, Rollout.state.in_(ACTIVE))
                .order_by(Rollout.id.desc())
            )
            if rollout is None:
                raise RegistryNotFoundError(f"model '{model}' has no rollout in progress")
            return rollout

    async def report(self, model: str) -> dict[str, Any] | None:
        """Per-arm numbers since the current step began (A/B: since the split began)."""
        latest = await asyncio.to_thread(self.latest, model)
        if latest is None:
            return None
        rollout = await asyncio.to_thread(self._row, latest["id"])
        now = await self._counters(model)
        arms = {}
        for version in (rollout.baseline, rollout.candidate):
            earlier = ArmCounters.from_json(rollout.step_counters.get(str(version), {}))
            arms[str(version)] = now.get(str(version), ArmCounters()).minus(earlier).summary()
        return {"rollout": latest, "arms": arms}

    def _row(self, rollout_id: int) -> Rollout:
        with self.catalog.sessions() as session:
            rollout = session.get(Rollout, rollout_id)
            assert rollout is not None
            return rollout

    # -- by hand --
    async def pause(self, model: str, actor: str) -> dict[str, Any]:
        rollout = await asyncio.to_thread(self._active, model)
        return await asyncio.to_thread(self._set, rollout.id, actor, "pause", state="paused")

    async def resume(self, model: str, actor: str) -> dict[str, Any]:
        rollout = await asyncio.to_thread(self._active, model)
        counters = await self._counters(model)
        return await asyncio.to_thread(
            self._set,
            rollout.id,
            actor,
            "resume",
            state="running",
            step_counters={v: c.as_json() for v, c in counters.items()},
            next_check_at=utcnow() + timedelta(seconds=rollout.interval_s),
        )

    async def promote(self, model: str, actor: str) -> dict[str, Any]:
        rollout = await asyncio.to_thread(self._active, model)
        return await self._promote(rollout, actor, "promoted by hand")

    async def rollback(self, model: str, actor: str, reason: str, state: str) -> dict[str, Any]:
        rollout = await asyncio.to_thread(self._active, model)
        return await self._rollback(rollout, actor, reason, state)

    def _set(self, rollout_id: int, actor: str, action: str, **values: Any) -> dict[str, Any]:
        with self.catalog.sessions.begin() as session:
            rollout = session.get(Rollout, rollout_id)
            assert rollout is not None
            before = rollout_dict(rollout)
            for key, value in values.items():
                setattr(rollout, key, value)
            rollout.updated_at = utcnow()
            session.flush()
            after = rollout_dict(rollout)
            if action:
                model = self.catalog.model_by_id(session, rollout.model_id)
                record(session, actor, action, model.name, before, after)
                finished = values.get("state") in ("promoted", "rolled_back", "aborted")
                if finished and model.busy_with == f"rollout:{rollout.id}":
                    model.busy_with = None
            return after

    # -- the loop --
    async def tick(self) -> None:
        def due() -> list[Rollout]:
            with self.catalog.sessions() as session:
                rows = session.scalars(select(Rollout).where(Rollout.state == "running"))
                now = utcnow()
                return [r for r in rows if r.kind == "canary" and _aware(r.next_check_at) <= now]

        for rollout in await asyncio.to_thread(due):
            try:
                await self._check(rollout)
                self._warned.discard(rollout.id)
            except MLInferError as exc:
                if rollout.id not in self._warned:
                    self._warned.add(rollout.id)
                    log.warning("rollout %d cannot be checked: %s", rollout.id, exc)

    async def _check(self, rollout: Rollout) -> None:
        model = await asyncio.to_thread(self._model_name, rollout.model_id)
        config = AnalysisConfig.from_json(rollout.analysis)
        now = await self._counters(model)
        arms = []
        for version in (rollout.baseline, rollout.candidate):
            earlier = ArmCounters.from_json(rollout.step_counters.get(str(version), {}))
            arms.append(now.get(str(version), ArmCounters()).minus(earlier))
        weight = rollout.steps[rollout.step]
        verdict = judge(config, arms[0], arms[1], 100 - weight)
        check = {"step": rollout.step, "weight": weight, "at": utcnow().isoformat()}
        check.update(verdict.as_json())
        later = utcnow() + timedelta(seconds=rollout.interval_s)
        if verdict.result == "hold":
            await asyncio.to_thread(
                self._set, rollout.id, "", "", last_check=check, next_check_at=later
            )
            return
        if verdict.result == "fail":
            failed = rollout.failed_checks + 1
            if failed >= config.threshold:
                reason = f"rolled back after {failed} failed checks: {verdict.reason}"
                await asyncio.to_thread(
                    self._set, rollout.id, "", "", failed_checks=failed, last_check=check
                )
                await self._rollback(rollout, "registry", reason, "rolled_back")
                return
            await asyncio.to_thread(
                self._set,
                rollout.id,
                "registry",
                "canary-check-failed",
                failed_checks=failed,
                last_check=check,
                next_check_at=later,
            )
            return
        if rollout.step + 1 >= len(rollout.steps):
            await asyncio.to_thread(self._set, rollout.id, "", "", last_check=check)
            await self._promote(rollout, "registry", f"all {len(rollout.steps)} steps passed")
            return
        step = rollout.step + 1
        next_weight = rollout.steps[step]
        arms_map = {rollout.baseline: 100 - next_weight, rollout.candidate: next_weight}
        await self.ops.shift(
            model, {v: w for v, w in arms_map.items() if w}, "registry", "canary-step"
        )
        await asyncio.to_thread(
            self._set,
            rollout.id,
            "registry",
            "canary-advance",
            step=step,
            last_check=check,
            step_counters={v: c.as_json() for v, c in (await self._counters(model)).items()},
            next_check_at=later,
        )

    async def _promote(self, rollout: Rollout, actor: str, reason: str) -> dict[str, Any]:
        model = await asyncio.to_thread(self._model_name, rollout.model_id)
        await self.ops.shift(model, {rollout.candidate: 100}, actor, "promote")
        keep = [rollout.candidate]
        info = await asyncio.to_thread(self.catalog.version_info, model, str(rollout.candidate))
        if not rollout.keep_previous:
            await self.ops.retire(model, Staged(model, rollout.candidate, info["config"]), keep)
        await asyncio.to_thread(
            self.catalog.set_alias, model, "production", str(rollout.candidate), actor
        )
        return await asyncio.to_thread(
            self._set, rollout.id, actor, "promoted", state="promoted", reason=reason
        )

    async def _rollback(
        self, rollout: Rollout, actor: str, reason: str, state: str
    ) -> dict[str, Any]:
        model = await asyncio.to_thread(self._model_name, rollout.model_id)
        await self.ops.shift(model, {rollout.baseline: 100}, actor, "rollback")
        info = await asyncio.to_thread(self.catalog.version_info, model, str(rollout.baseline))
        await self.ops.retire(
            model, Staged(model, rollout.baseline, info["config"]), [rollout.baseline]
        )
        return await asyncio.to_thread(
            self._set, rollout.id, actor, state.replace("_", "-"), state=state, reason=reason
        )

    # -- helpers --
    def _model_name(self, model_id: int) -> str:
        with self.catalog.sessions() as session:
            return self.catalog.model_by_id(session, model_id).name

    async def _counters(self, model: str) -> dict[str, ArmCounters]:
        texts = [await self.ops.serving.metrics(url) for url in self._metrics_urls]
        return parse_counters(texts, model)

    def wake(self) -> None:
        self._ticker.wake()
