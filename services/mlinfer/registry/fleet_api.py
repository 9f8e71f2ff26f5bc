"""The fleet's admin routes (``/v1/fleet/...``), all under the ``models:admin`` scope.

Boxes are enrolled (or enroll themselves) by name with their URL, repository and
labels; a fleet rollout of a model version targets a label selector in waves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from mlinfer.registry.analysis import AnalysisConfig
from mlinfer.registry.errors import BadRequestError
from mlinfer.registry.fleet import FleetEngine
from mlinfer.registry.fleet_waves import FleetCriteria, check_selector

Admin = Callable[..., Awaitable[str]]


class BoxBody(BaseModel):
    url: str = Field(description="The box's REST base URL, e.g. http://10.0.3.7:8000.")
    repository: str = Field(description="Its model repository, as a path the registry reaches.")
    labels: dict[str, str] = Field(default_factory=dict, description="e.g. site, hardware.")


class FleetRolloutBody(BaseModel):
    model: str
    version: str = Field(description="Version number or alias.")
    selector: dict[str, str] = Field(
        default_factory=dict, description="Labels every targeted box has (empty: all boxes)."
    )
    waves: list[dict[str, Any]] = Field(
        default_factory=lambda: [{"count": 1}, {"percent": 10}, {"percent": 100}],
        description="Each {count: N} | {percent: P} | {selector: {...}} (optionally bounded).",
    )
    analysis: dict[str, Any] = Field(
        default_factory=dict, description="Per-box canary analysis (as for canaries)."
    )
    criteria: dict[str, Any] = Field(
        default_factory=dict,
        description="soak_s, max_failed_percent, require_traffic, max_holds.",
    )


def fleet_router(fleet: FleetEngine, admin: Admin) -> APIRouter:
    router = APIRouter(prefix="/v1/fleet", tags=["fleet"])

    @router.put("/boxes/{name}", summary="Enroll a box (or update it)")
    async def enroll(request: Request, name: str, body: BoxBody) -> Any:
        actor = await admin(request)
        return await asyncio.to_thread(
            fleet.boxes.enroll, name, body.url, body.repository, body.labels, actor
        )

    @router.get("/boxes", summary="Enrolled boxes, optionally by label (site=a,hw=orin)")
    async def boxes(request: Request, selector: str = "") -> Any:
        await admin(request)
        return await asyncio.to_thread(fleet.boxes.matching, _selector(selector))

    @router.get("/boxes/{name}", summary="One box")
    async def box(request: Request, name: str) -> Any:
        await admin(request)
        return await asyncio.to_thread(fleet.boxes.get, name)

    @router.delete("/boxes/{name}", status_code=204, summary="Remove a box from the fleet")
    async def remove(request: Request, name: str) -> None:
        actor = await admin(request)
        await asyncio.to_thread(fleet.boxes.remove, name, actor)

    @router.post("/rollouts", status_code=201, summary="Roll a version out to boxes in waves")
    async def start(request: Request, body: FleetRolloutBody) -> Any:
        actor = await admin(request, body.model)
        try:
            analysis = AnalysisConfig.from_json(body.analysis)
        except (TypeError, ValueError) as exc:
            raise BadRequestError(f"invalid analysis: {exc}") from None
        return await fleet.start_rollout(
            body.model,
            body.version,
            selector=body.selector,
            waves=body.waves,
            analysis=analysis,
            criteria=FleetCriteria.from_json(body.criteria),
            actor=actor,
        )

    @router.get("/rollouts", summary="Fleet rollouts, newest first")
    async def rollouts(
        request: Request, model: str | None = None, limit: int = Query(20, ge=1, le=1000)
    ) -> Any:
        await admin(request, model)
        return await asyncio.to_thread(fleet.store.recent, model, limit)

    @router.get("/rollouts/{rollout_id}", summary="A fleet rollout with every box's status")
    async def rollout(request: Request, rollout_id: int) -> Any:
        await admin(request)
        return await asyncio.to_thread(fleet.store.get, rollout_id)

    @router.post(
        "/rollouts/{rollout_id}/abort",
        summary="Abort: every box the rollout changed returns to its previous version",
    )
    async def abort(request: Request, rollout_id: int) -> Any:
        actor = await admin(request)
        return await fleet.abort(rollout_id, actor)

    return router


def _selector(text: str) -> dict[str, str]:
    selector = {}
    for item in filter(None, text.split(",")):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise BadRequestError(f"selector is KEY=VALUE[,KEY=VALUE], got '{text}'")
        selector[key] = value
    return check_selector(selector)
