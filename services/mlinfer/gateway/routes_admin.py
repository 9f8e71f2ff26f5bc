"""Appliance admin routes: live model instance counts (the autoscaler's embedded actuator).

Thin on purpose: parse, authorize (``models:admin``, as load/unload), audit, call the DataPlane.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from mlinfer.auth.guard import audited
from mlinfer.auth.identity import Scope
from mlinfer.batching.scheduler import MAX_INSTANCES
from mlinfer.core.errors import InvalidInputError
from mlinfer.dataplane import DataPlane
from mlinfer.gateway.body import read_body
from mlinfer.gateway.codec import parse_json
from mlinfer.gateway.openapi import AUTH, BODY, MODEL, route_metadata
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
        # Not in the OpenAPI document: the autoscaler's actuator on the appliance
        # (docs/AUTOSCALING.md), not part of the inference API clients program against.
        router = APIRouter(tags=["Appliance admin"], include_in_schema=False)
        router.add_api_route(
            INSTANCES_PATH,
            self.get_instances,
            methods=["GET"],
            summary="Instance count",
            **route_metadata(*AUTH, *MODEL),
        )
        count = {"type": "integer", "minimum": 1, "maximum": MAX_INSTANCES}
        body = {
            "type": "object",
            "required": ["instances"],
            "properties": {"instances": count},
            "additionalProperties": False,
        }
        router.add_api_route(
            INSTANCES_PATH,
            self.set_instances,
            methods=["PUT"],
            summary="Change a model's instance count live",
            **route_metadata(
                *AUTH,
                *MODEL,
                *BODY,
                extra={
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": body}},
                    }
                },
            ),
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
        if isinstance(count, float) and count.is_integer():
            count = int(count)  # 18.0 is an integer to JSON Schema
        if not isinstance(count, int) or isinstance(count, bool) or len(doc) != 1:
            raise InvalidInputError('body must be {"instances": <integer>}')
        async with audited(self._policy.guard, identity, "set-instances", model):
            count = await self._dp.set_instance_count(model, count)
        return json_response({"model": model, "instances": count})
