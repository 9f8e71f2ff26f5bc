"""One access policy for every transport: authenticate, authorize, rate-limit.

REST routes and gRPC methods call :meth:`AccessGuard.check` with the raw credential values
they received; failures count in the gateway metrics and surface as 401/403/429.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from mlinfer.auth.authenticator import Authenticator, Credential
from mlinfer.auth.errors import PermissionDeniedError, UnauthenticatedError
from mlinfer.auth.identity import Identity, Scope
from mlinfer.auth.policy import authorize
from mlinfer.core.errors import MLInferError
from mlinfer.observability.metrics import GatewayMetrics
from mlinfer.ratelimit.limiter import RateLimiter, limited_error

log = logging.getLogger(__name__)
AUDIT_LOGGER = "mlinfer.audit"


class AccessGuard:
    def __init__(
        self, authenticator: Authenticator, limiter: RateLimiter, metrics: GatewayMetrics
    ) -> None:
        self.authenticator = authenticator
        self.limiter = limiter
        self._metrics = metrics
        self.audit = logging.getLogger(AUDIT_LOGGER)

    async def start(self) -> None:
        await self.authenticator.start()
        if not self.authenticator.enabled:
            log.warning(
                "AUTHENTICATION IS DISABLED (MLINFER_AUTH_MODE=disabled): every client may "
                "infer, read and load/unload models. Do not expose this server."
            )

    async def close(self) -> None:
        await self.limiter.aclose()

    async def check(
        self,
        authorization: Credential,
        api_key: Credential,
        action: Scope,
        model: str | None = None,
        peer: str | None = None,
    ) -> Identity:
        """The caller's identity, if it may do ``action`` (on ``model``) right now."""
        identity = await self.identify(authorization, api_key, action)
        await self.admit(identity, action, model, peer)
        return identity

    async def identify(
        self, authorization: Credential, api_key: Credential, action: Scope
    ) -> Identity:
        """The caller's identity, if it holds ``action``'s scope: all that can be checked
        before a request body that names the model has been read."""
        try:
            identity = await self.authenticator.authenticate(authorization, api_key)
            authorize(identity, action)
        except UnauthenticatedError:
            self._metrics.auth_failures.labels("unauthenticated").inc()
            raise
        except PermissionDeniedError:
            self._metrics.auth_failures.labels("forbidden").inc()
            raise
        return identity

    async def admit(
        self, identity: Identity, action: Scope, model: str | None, peer: str | None = None
    ) -> None:
        """May ``identity`` do ``action`` on ``model`` now: model access, then rate limits."""
        try:
            authorize(identity, action, model)
        except PermissionDeniedError:
            self._metrics.auth_failures.labels("forbidden").inc()
            raise
        if action is Scope.INFER:
            # Without authentication every caller is "anonymous": limit per peer instead.
            client = peer if identity.kind == "anonymous" and peer else identity.subject
            decision = await self.limiter.check(client, model)
            if not decision.allowed:
                self._metrics.rate_limited.labels(decision.limit or "client").inc()
                raise limited_error(decision, client, model)

    def audit_admin(self, identity: Identity, action: str, model: str, outcome: str) -> None:
        """Who loaded or unloaded what: the audit trail of admin actions."""
        self.audit.info(
            "admin action",
            extra={
                "action": action,
                "model": model,
                "identity": identity.subject,
                "identity_kind": identity.kind,
                "outcome": outcome,
            },
        )


@asynccontextmanager
async def audited(
    guard: AccessGuard, identity: Identity, action: str, model: str
) -> AsyncIterator[None]:
    """Audit-log an admin action with its outcome, whichever transport asked for it."""
    try:
        yield
    except MLInferError as exc:
        guard.audit_admin(identity, action, model, f"failed: {exc.message}")
        raise
    guard.audit_admin(identity, action, model, "ok")
