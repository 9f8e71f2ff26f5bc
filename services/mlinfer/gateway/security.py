"""REST side of the access policy: credentials from headers, identity on the request."""

from __future__ import annotations

from starlette.requests import Request

from mlinfer.auth.guard import AccessGuard
from mlinfer.auth.identity import Identity, Scope


async def authorize_http(
    guard: AccessGuard, request: Request, action: Scope, model: str | None = None
) -> Identity:
    identity = await guard.check(
        request.headers.get("authorization"),
        request.headers.get("x-api-key"),
        action,
        model,
        peer=request.client.host if request.client else None,
    )
    request.state.identity = identity.subject
    return identity
