"""REST side of the access policy: the caller's credentials and peer from the request."""

from __future__ import annotations

from starlette.requests import Request

from mlinfer.transport.policy import Caller


def caller(request: Request) -> Caller:
    return Caller.from_headers(request.headers, request.client.host if request.client else None)
