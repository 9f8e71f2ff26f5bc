"""What the OpenAPI document says each REST route answers, in one table.

FastAPI infers a document from handler signatures; ours read raw bodies and answer errors
as Triton does, so the inferred one is wrong in known ways: it promises 422 (we answer 400
with ``{"error": ...}``), omits the auth, size and overload errors, shows JSON for empty and
text bodies, and shows no body for ``/v2`` inference. Routes register with the metadata
built here, and :func:`install` fixes what registration cannot (the 422 FastAPI adds).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import FastAPI, Path
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field, JsonValue
from starlette.responses import JSONResponse, PlainTextResponse, Response

from mlinfer.core.datatypes import BY_NAME

ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "Invalid request: malformed body or parameter, or a model that is not ready.",
    401: "Missing, malformed or rejected credentials (authentication required).",
    403: "The credentials lack the scope or model this call needs.",
    404: "Unknown model or version.",
    413: "The body exceeds the configured size limit.",
    429: "Rate limit exceeded; Retry-After says when to come back.",
    503: "Overloaded, model loading or unloading, or the backend unavailable; retry later.",
    504: "The request's deadline passed before the backend answered.",
}

AUTH = (401, 403, 429)  # every route that checks credentials (rate limits apply there too)
BACKEND = (503,)  # routes asking the backend (a Triton backend may be unreachable)
MODEL = (404, 503)  # routes naming a model or version (503: loading, unloading)
BODY = (413,)  # routes that read a request body
INFERENCE = (503, 504)  # routes that run the model


class ErrorBody(BaseModel):
    """Triton's error shape: every non-2xx answer of the API has it."""

    error: str = Field(..., description="What is wrong, in Triton's wording where it has one.")


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for these error statuses, each with the error schema."""
    table: dict[int | str, dict[str, Any]] = {
        400: {"model": ErrorBody, "description": ERROR_DESCRIPTIONS[400]}
    }
    for code in codes:
        table[code] = {"model": ErrorBody, "description": ERROR_DESCRIPTIONS[code]}
    return table


def route_metadata(*codes: int, description: str = "OK") -> dict[str, Any]:
    """``add_api_route`` keyword arguments for a route answering JSON."""
    return {
        "responses": errors(*codes),
        "response_class": JSONResponse,
        "response_description": description,
    }


def empty_metadata(*codes: int, description: str) -> dict[str, Any]:
    """A route answering 200 with an empty body (Triton's health and readiness routes)."""
    return {
        "responses": errors(*codes),
        "response_class": Response,  # no media type: documented without content
        "response_description": description,
    }


def text_metadata(*codes: int, description: str) -> dict[str, Any]:
    return {
        "responses": errors(*codes),
        "response_class": PlainTextResponse,
        "response_description": description,
    }


# --- path parameters: one declaration, so versioned and unversioned routes agree ---------

ModelName = Annotated[str, Path(description="Model name, as in the repository.")]
ModelVersion = Annotated[
    int, Path(ge=0, description="Model version (digits); routes without one use the newest.")
]


def versioned(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """``endpoint`` with its ``model`` and ``version`` declared as documented path parameters."""
    return _with_parameters(endpoint, {"model": ModelName, "version": ModelVersion})


def unversioned(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """``endpoint`` without its ``version`` parameter: a handler that serves both route
    forms takes ``version=None`` by default, which FastAPI would otherwise publish (and
    accept) as a ``?version=`` query parameter."""
    return _with_parameters(endpoint, {"model": ModelName}, drop="version")


def _with_parameters(
    endpoint: Callable[..., Any], annotations: dict[str, Any], drop: str | None = None
) -> Callable[..., Any]:
    signature = inspect.signature(endpoint, eval_str=True)
    parameters = [
        p.replace(annotation=annotations[p.name], default=inspect.Parameter.empty)
        if p.name in annotations
        else p
        for p in signature.parameters.values()
        if p.name != drop
    ]

    @functools.wraps(endpoint)
    async def route(*args: Any, **kwargs: Any) -> Any:
        return await endpoint(*args, **kwargs)

    route.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    return route


# --- the Open Inference Protocol inference request ----------------------------------------

_PARAMETERS = Field(
    None, description="Request parameters (binary_data_output, classification, priority...)."
)


class InferInputTensor(BaseModel):
    model_config = ConfigDict(title="InferInputTensor")

    name: str = Field(
        ..., min_length=1, description="Input name, as the model's metadata lists it."
    )
    shape: list[Annotated[int, Field(ge=0)]] = Field(..., description="Dimensions.")
    datatype: str = Field(
        ...,
        description="Open Inference Protocol datatype.",
        json_schema_extra={"enum": list[JsonValue](sorted(BY_NAME))},
    )
    parameters: dict[str, Any] | None = Field(
        None, description="binary_data_size when the tensor follows the JSON header in binary."
    )
    data: list[Any] | None = Field(
        None,
        description="Elements, flat or nested in row-major order (omit when binary).",
        json_schema_extra={"items": {"type": ["number", "string", "boolean", "array"]}},
    )


class InferRequestedOutput(BaseModel):
    name: str = Field(..., min_length=1, description="Output name.")
    parameters: dict[str, Any] | None = Field(
        None, description="binary_data, classification (top-k)."
    )


class InferRequestBody(BaseModel):
    """The JSON inference request of the Open Inference Protocol (KServe v2)."""

    id: str | None = Field(None, description="Echoed in the response.")
    parameters: dict[str, Any] | None = _PARAMETERS
    inputs: list[InferInputTensor] = Field(..., min_length=1)
    outputs: list[InferRequestedOutput] | None = Field(
        None, description="Outputs to return (default: all)."
    )


_HEADER_LENGTH_DOC = (
    "Binary tensor data extension: length in bytes of the JSON header that starts the "
    "body; the tensors' bytes follow it. Absent for a JSON-only body."
)


def infer_metadata() -> dict[str, Any]:
    """``/v2/.../infer``: JSON or binary-extension body in, JSON or binary body out."""
    ref = {"$ref": "#/components/schemas/InferRequestBody"}
    binary = {"type": "string", "format": "binary"}
    header = {
        "name": "Inference-Header-Content-Length",
        "in": "header",
        "required": False,
        "description": _HEADER_LENGTH_DOC,
        "schema": {"type": "integer", "minimum": 0},
    }
    responses = errors(*AUTH, *MODEL, *BODY, *INFERENCE)
    responses[200] = {
        "description": "Outputs as JSON, or a JSON header followed by binary tensor data.",
        "content": {"application/octet-stream": {"schema": binary}},
        "headers": {
            "Inference-Header-Content-Length": {
                "description": "Set when the body is binary: length of its JSON header.",
                "schema": {"type": "integer", "minimum": 0},
            }
        },
    }
    return {
        "responses": responses,
        "response_class": JSONResponse,
        "openapi_extra": {
            "parameters": [header],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": ref},
                    "application/octet-stream": {"schema": binary},
                },
            },
        },
    }


INDEX_REQUEST: dict[str, Any] = {
    "type": "object",
    "properties": {"ready": {"type": "boolean", "description": "List only ready models."}},
}
LOAD_REQUEST: dict[str, Any] = {
    "type": "object",
    "properties": {
        "parameters": {
            "type": "object",
            "properties": {
                "config": {
                    "type": ["string", "null"],
                    "description": "Model configuration as JSON, overriding config.pbtxt "
                    "(null or absent: the repository's).",
                }
            },
            "additionalProperties": False,
        }
    },
}


def json_body_metadata(schema: dict[str, Any], *codes: int) -> dict[str, Any]:
    """A route reading an optional JSON body itself (repository index, load)."""
    return {
        **route_metadata(*codes),
        "openapi_extra": {
            "requestBody": {
                "required": False,
                "content": {"application/json": {"schema": schema}},
            }
        },
    }


def image_metadata() -> dict[str, Any]:
    """``/infer/image``: a multipart upload (field ``image`` or ``file``) or a raw image body."""
    binary = {"type": "string", "format": "binary"}
    upload = {
        "type": "object",
        "properties": {"image": binary},
        "required": ["image"],
        "description": "The image in a file field named 'image' ('file' is read when "
        "'image' is absent); at most one file.",
    }
    raw = {"schema": binary}
    return {
        **route_metadata(*AUTH, *MODEL, *BODY, *INFERENCE),
        "openapi_extra": {
            "requestBody": {
                "required": True,
                "content": {
                    "multipart/form-data": {"schema": upload},
                    "image/jpeg": raw,
                    "image/png": raw,
                    "application/octet-stream": raw,
                },
            }
        },
    }


class HealthBody(BaseModel):
    status: str = Field(..., description="'ok' when live and ready, else 'unavailable'.")
    live: bool
    ready: bool
    backend: str = Field(..., description="The engine serving the models.")
    models: dict[str, str] | None = Field(None, description="Model (name:version) -> state.")


def health_metadata(*codes: int) -> dict[str, Any]:
    """``/health``: the same body with 200 (ready) or 503 (not ready)."""
    metadata = route_metadata(*codes, description="Live and ready")
    metadata["response_model"] = HealthBody
    metadata["responses"][503] = {"model": HealthBody, "description": "Not live or not ready."}
    return metadata


# --- the document --------------------------------------------------------------------------

_EXTRA_MODELS: tuple[type[BaseModel], ...] = (InferRequestBody,)


def install(app: FastAPI) -> None:
    """Serve the corrected document (built once, on first request) at ``app.openapi``."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def build_document(app: FastAPI) -> dict[str, Any]:
    doc = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version=app.openapi_version,
        description=app.description,
        routes=app.routes,
    )
    for operations in doc.get("paths", {}).values():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for model in _EXTRA_MODELS:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return doc
