"""Appliance admin routes: live model instance counts (the autoscaler's embedded actuator).

Thin on purpose: parse, authorize (``models:admin``, as load/unload), audit, call the DataPlane.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from mlinfer.auth.guard import audited
from mlinfer.auth.identity import Scope
from mlinfer.core.errors import InvalidInputError
from mlinfer.dataplane import DataPlane
from mlinfer.gateway.body import read_body
from mlinfer.gateway.codec import parse_json
from mlinfer.gateway.responses import json_response
from mlinfer.gateway.security import caller
from mlinfer.settings import Settings
from mlinfer.transport.policy import RequestPolicy

INSTANCES_PATH = "/v2/admin/models/{model}/instances"


class AdminRoutes:
    def __init__(self, dataplane: DataPlane, settings: Settings, policy: RequestPolicy) -> None:
        self._dp = dataplane
        self._policy = policy
        self._limit = settings.max_request_bytes

    def router(self) -> APIRouter:
        router = APIRouter(tags=["Appliance admin"])
        router.add_api_route(
            INSTANCES_PATH, self.get_instances, methods=["GET"], summary="Instance count"
        )
        router.add_api_route(
            INSTANCES_PATH,
            self.set_instances,
            methods=["PUT"],
            summary="Change a model's instance count live",
        )
        return router

    async def get_instances(self, request: Request, model: str) -> Response:
        await self._policy.authorize(caller(request), Scope.MODELS_READ, model)
        config = await self._dp.model_config(model)
        count = sum(g.count for g in config.instance_group) or 1
        return json_response({"model": model, "instances": count})

    async def set_instances(self, request: Request, model: str) -> Response:
        identity = await self._policy.authorize(caller(request), Scope.MODELS_ADMIN, model)
        doc = parse_json(await read_body(request, self._limit))
        count = doc.get("instances") if isinstance(doc, dict) else None
        if not isinstance(count, int) or isinstance(count, bool):
            raise InvalidInputError('body must be {"instances": <integer>}')
        async with audited(self._policy.guard, identity, "set-instances", model):
            count = await self._dp.set_instance_count(model, count)
        return json_response({"model": model, "instances": count})
