"""What the OpenAPI document says each REST route answers, in one table.

FastAPI infers a document from handler signatures; ours read raw bodies and answer errors
as Triton does, so the inferred one is wrong in known ways: it promises 422 (we answer 400
with ``{"error": ...}``), omits the auth, size and overload errors, shows JSON for empty and
text bodies, and shows no body for ``/v2`` inference. Routes register with the metadata
built here; ``mlinfer.gateway.openapi_document`` assembles the document from it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Path
from pydantic import BaseModel, Field, JsonValue
from starlette.responses import JSONResponse, PlainTextResponse, Response

from mlinfer.core.datatypes import BY_NAME

ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "Invalid request: malformed body or parameter, or a model that is not ready.",
    401: "Missing, malformed or rejected credentials (authentication required).",
    403: "The credentials lack the scope or model this call needs.",
    404: "Unknown model or version.",
    408: "The body did not arrive within MLINFER_REQUEST_BODY_TIMEOUT_S; the connection closes.",
    413: "The body exceeds the configured size limit.",
    429: "Rate limit exceeded; Retry-After says when to come back.",
    503: "Overloaded, model loading or unloading, or the backend unavailable; retry later.",
    504: "The request's deadline passed before the backend answered.",
}

_ERROR_REF = "#/components/schemas/ErrorBody"
AUTH = (401, 403, 429)  # every route that checks credentials (rate limits apply there too)
BACKEND = (503,)  # routes asking the backend (a Triton backend may be unreachable)
MODEL = (404, 503)  # routes naming a model or version (503: loading, unloading)
BODY = (408, 413)  # routes that read a request body
INFERENCE = (503, 504)  # routes that run the model


class ErrorBody(BaseModel):
    """Triton's error shape: every non-2xx answer of the API has it."""

    error: str = Field(..., description="What is wrong, in Triton's wording where it has one.")


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for 400 and these error statuses, each with the error schema.

    The content is spelled out: given a model, FastAPI would document it in the route's own
    media type (text for ``/metrics``), but errors are JSON on every route.
    """
    return {
        code: {
            "description": ERROR_DESCRIPTIONS[code],
            "content": {"application/json": {"schema": {"$ref": _ERROR_REF}}},
        }
        for code in (400, *codes)
    }


# Who may call a route; the document turns it into ``security`` for the configured auth.
ACCESS_KEY = "x-mlinfer-access"
CHECKED, HEALTH, METRICS = "checked", "health", "metrics"


def route_metadata(
    *codes: int,
    description: str = "OK",
    response_class: type[Response] = JSONResponse,
    access: str = CHECKED,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``add_api_route`` keyword arguments: documented errors, body type, access."""
    return {
        "responses": errors(*codes),
        "response_class": response_class,
        "response_description": description,
        "openapi_extra": {ACCESS_KEY: access, **(extra or {})},
    }


def empty_metadata(*codes: int, description: str, access: str = CHECKED) -> dict[str, Any]:
    """A route answering 200 with an empty body (Triton's health and readiness routes)."""
    # Response has no media type, so the 200 is documented without content.
    return route_metadata(*codes, description=description, response_class=Response, access=access)


def text_metadata(*codes: int, description: str, access: str = CHECKED) -> dict[str, Any]:
    return route_metadata(
        *codes, description=description, response_class=PlainTextResponse, access=access
    )


# --- path parameters: one declaration, so versioned and unversioned routes agree ---------

ModelName = Annotated[str, Path(description="Model name, as in the repository.")]
ModelVersion = Annotated[
    int,
    # Documented, not validated here: the route only matches digits, and the data plane
    # refuses 0 in Triton's words.
    Path(
        description="Model version (digits, > 0); routes without one use the newest.",
        json_schema_extra={"minimum": 1},
    ),
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
    metadata = route_metadata(
        extra={
            "parameters": [header],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": ref},
                    "application/octet-stream": {"schema": binary},
                },
            },
        }
    )
    metadata["responses"] = responses
    return metadata


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
    body = {"required": False, "content": {"application/json": {"schema": schema}}}
    return route_metadata(*codes, extra={"requestBody": body})


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
    content = {
        "multipart/form-data": {"schema": upload},
        "image/jpeg": raw,
        "image/png": raw,
        "application/octet-stream": raw,
    }
    return route_metadata(
        *AUTH,
        *MODEL,
        *BODY,
        *INFERENCE,
        extra={"requestBody": {"required": True, "content": content}},
    )


class HealthBody(BaseModel):
    status: str = Field(..., description="'ok' when live and ready, else 'unavailable'.")
    live: bool
    ready: bool
    backend: str = Field(..., description="The engine serving the models.")
    models: dict[str, str] | None = Field(None, description="Model (name:version) -> state.")


def health_metadata(*codes: int) -> dict[str, Any]:
    """``/health``: the same body with 200 (ready) or 503 (not ready)."""
    metadata = route_metadata(*codes, description="Live and ready", access=HEALTH)
    metadata["response_model"] = HealthBody
    metadata["responses"][503] = {"model": HealthBody, "description": "Not live or not ready."}
    return metadata
