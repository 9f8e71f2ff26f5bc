"""Appliance admin routes: live model instance counts (the autoscaler's embedded actuator).

Thin on purpose: parse, authorize (``models:admin``, as load/unload), audit, call the DataPlane.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from mlinfer.auth.guard import AccessGuard, audited
from mlinfer.auth.identity import Scope
from mlinfer.core.dataplane import DataPlane
from mlinfer.core.errors import InvalidInputError
from mlinfer.core.settings import Settings
from mlinfer.gateway.body import read_body
from mlinfer.gateway.codec import parse_json
from mlinfer.gateway.responses import json_response
from mlinfer.gateway.security import authorize_http

INSTANCES_PATH = "/v2/admin/models/{model}/instances"


def build_router(dataplane: DataPlane, settings: Settings, guard: AccessGuard) -> APIRouter:
    router = APIRouter(tags=["Appliance admin"])

    @router.get(INSTANCES_PATH, summary="Instance count of a model")
    async def get_instances(request: Request, model: str) -> Response:
        await authorize_http(guard, request, Scope.MODELS_READ, model)
        config = await dataplane.model_config(model)
        count = sum(g.count for g in config.instance_group) or 1
        return json_response({"model": model, "instances": count})

    @router.put(INSTANCES_PATH, summary="Change a model's instance count live")
    async def set_instances(request: Request, model: str) -> Response:
        identity = await authorize_http(guard, request, Scope.MODELS_ADMIN, model)
        doc = parse_json(await read_body(request, settings.max_request_bytes))
        count = doc.get("instances") if isinstance(doc, dict) else None
        if not isinstance(count, int) or isinstance(count, bool):
            raise InvalidInputError('body must be {"instances": <integer>}')
        async with audited(guard, identity, "set-instances", model):
            count = await dataplane.set_instance_count(model, count)
        return json_response({"model": model, "instances": count})

    return router
