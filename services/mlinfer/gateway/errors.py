"""mlinfer errors -> HTTP responses (the one place this mapping lives for REST)."""

from __future__ import annotations

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.responses import Response

from mlinfer.core.errors import MLInferError
from mlinfer.gateway.responses import json_response


def error_response(exc: MLInferError) -> Response:
    return json_response({"error": exc.message}, exc.status.value, exc.headers())


async def handle_mlinfer_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, MLInferError)
    return error_response(exc)


async def handle_validation_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in exc.errors()
    )
    return json_response({"error": f"invalid request: {problems}"}, 400)
