"""REST side of the access policy: the caller's credentials and peer from the request."""

from __future__ import annotations

from starlette.requests import Request

from mlinfer.transport.policy import Caller


def caller(request: Request) -> Caller:
    return Caller(
        authorization=request.headers.get("authorization"),
        api_key=request.headers.get("x-api-key"),
        peer=request.client.host if request.client else None,
    )
