"""Who may make a call: credentials from any transport checked against one access policy."""

from __future__ import annotations

from dataclasses import dataclass

from mlinfer.auth.guard import AccessGuard
from mlinfer.auth.identity import Identity, Scope
from mlinfer.settings import Settings


@dataclass(frozen=True)
class Caller:
    """What a transport knows of the caller: its credentials and network peer."""

    authorization: str | None = None  # ``Authorization`` header / metadata value
    api_key: str | None = None  # ``X-API-Key`` header / metadata value
    peer: str | None = None  # address, the rate-limit key when authentication is off


class RequestPolicy:
    """Authorization for each kind of call, including which endpoints stay open.

    Health and metrics may be opened (``MLINFER_AUTH_OPEN_HEALTH`` / ``..._METRICS``) so
    load balancers and Prometheus need no credentials; everything else is checked.
    """

    def __init__(self, guard: AccessGuard, *, open_health: bool, open_metrics: bool) -> None:
        self.guard = guard
        self._open_health = open_health
        self._open_metrics = open_metrics

    @classmethod
    def from_settings(cls, guard: AccessGuard, settings: Settings) -> RequestPolicy:
        return cls(
            guard,
            open_health=settings.auth.open_health,
            open_metrics=settings.auth.open_metrics,
        )

    async def authorize(self, caller: Caller, action: Scope, model: str | None = None) -> Identity:
        """The caller's identity if it may do ``action`` (on ``model``); raises 401/403/429."""
        return await self.guard.check(
            caller.authorization, caller.api_key, action, model, peer=caller.peer
        )

    async def authorize_health(self, caller: Caller) -> Identity | None:
        """Liveness, readiness and server metadata: open, or ``models:read``."""
        if self._open_health:
            return None
        return await self.authorize(caller, Scope.MODELS_READ)

    async def authorize_metrics(self, caller: Caller) -> Identity | None:
        """The Prometheus endpoint: open, or ``models:read``."""
        if self._open_metrics:
            return None
        return await self.authorize(caller, Scope.MODELS_READ)
