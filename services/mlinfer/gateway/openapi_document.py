"""The OpenAPI document served at ``/openapi.json``: FastAPI's, corrected for this server.

Registration (``mlinfer.gateway.openapi``) says what each route answers and who may call
it; this module removes what FastAPI adds on its own (422 and its schemas: we answer 400
with ``{"error": ...}``) and states the access the server is configured with, so a client
or a fuzzer reading the document sees the server it talks to.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mlinfer.auth.settings import AuthSettings
from mlinfer.gateway.openapi import ACCESS_KEY, HEALTH, METRICS, ErrorBody, InferRequestBody
from mlinfer.gateway.security import caller
from mlinfer.gateway.simple_infer import SimpleInferRequest
from mlinfer.transport.policy import RequestPolicy

# Models that routes reference by name but that no handler signature brings in.
_EXTRA_MODELS: tuple[type[BaseModel], ...] = (ErrorBody, InferRequestBody, SimpleInferRequest)
_CREDENTIAL_ERRORS = ("401", "403", "429")
OPENAPI_PATH = "/openapi.json"  # answered only where credentials are checked


def install(app: FastAPI, auth: AuthSettings, policy: RequestPolicy) -> None:
    """Serve the corrected document (built once, on first request) at ``app.openapi``;
    with ``open_docs`` off, at :data:`OPENAPI_PATH` for ``models:read`` callers only."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_document(app, auth)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    if app.openapi_url is None:

        async def checked_document(request: Request) -> Response:
            await policy.authorize_docs(caller(request))
            return JSONResponse(openapi())

        app.add_route(OPENAPI_PATH, checked_document, include_in_schema=False)


def security_schemes(auth: AuthSettings) -> dict[str, dict[str, Any]]:
    """The credentials this server accepts, as OpenAPI security schemes."""
    if auth.mode == "disabled":
        return {}
    schemes: dict[str, dict[str, Any]] = {}
    if auth.jwt_secret is not None or auth.jwks_url is not None:
        schemes["bearer"] = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    if auth.api_keys:
        schemes["apiKey"] = {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    return schemes


def build_document(app: FastAPI, auth: AuthSettings) -> dict[str, Any]:
    doc = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version=app.openapi_version,
        description=app.description,
        routes=app.routes,
    )
    schemes = security_schemes(auth)
    open_access = {HEALTH: auth.open_health, METRICS: auth.open_metrics}
    for operations in doc.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            responses.pop("422", None)
            access = operation.pop(ACCESS_KEY, None)
            if access is None:
                continue
            if not schemes or open_access.get(access, False):
                # Nobody is asked for credentials here: none of their errors can happen.
                for code in _CREDENTIAL_ERRORS if open_access.get(access) else ("401", "403"):
                    responses.pop(code, None)
            else:
                operation["security"] = [{name: []} for name in schemes]
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for model in _EXTRA_MODELS:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    if schemes:
        components["securitySchemes"] = schemes
    return doc
