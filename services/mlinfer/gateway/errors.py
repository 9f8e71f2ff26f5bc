"""mlinfer errors -> HTTP responses (the one place this mapping lives for REST)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from mlinfer.core.errors import MLInferError
from mlinfer.gateway.responses import json_response


def error_response(exc: MLInferError) -> Response:
    return json_response({"error": exc.message}, exc.status.value, exc.headers())


async def handle_mlinfer_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, MLInferError)
    return error_response(exc)


def validation_problems(errors: Sequence[Any]) -> str:
    """Pydantic's errors as one line: ``location: message; ...``."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in errors
    )


async def handle_validation_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return json_response({"error": f"invalid request: {validation_problems(exc.errors())}"}, 400)


async def handle_http_exception(_: Request, exc: Exception) -> Response:
    """Starlette's own errors (no route, method not allowed, malformed multipart) in Triton's
    shape instead of FastAPI's ``{"detail": ...}``, keeping their headers (``Allow``)."""
    assert isinstance(exc, HTTPException)
    if exc.status_code in (204, 304) or exc.status_code < 200:
        return Response(status_code=exc.status_code, headers=exc.headers)
    return json_response({"error": str(exc.detail)}, exc.status_code, dict(exc.headers or {}))
