"""Who may make a call: credentials from any transport checked against one access policy."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from mlinfer.auth.authenticator import Credential
from mlinfer.auth.guard import AccessGuard
from mlinfer.auth.identity import ANONYMOUS, Identity, Scope
from mlinfer.settings import Settings


class MultiHeaders(Protocol):
    """Headers that may repeat (Starlette's ``Headers``)."""

    def getlist(self, key: str) -> list[str]: ...


@dataclass(frozen=True)
class Caller:
    """What a transport knows of the caller: its credentials and network peer.

    Credentials are every value received under their name (a repeated header or metadata
    key gives several, which authentication refuses), never a first or last pick.
    """

    authorization: Credential = None  # ``Authorization`` header / metadata values
    api_key: Credential = None  # ``X-API-Key`` header / metadata values
    peer: str | None = None  # address, the rate-limit key when authentication is off

    @classmethod
    def from_values(
        cls, authorization: Sequence[str], api_key: Sequence[str], peer: str | None
    ) -> Caller:
        return cls(_credential(authorization), _credential(api_key), peer)

    @classmethod
    def from_headers(cls, headers: MultiHeaders, peer: str | None) -> Caller:
        return cls.from_values(headers.getlist("authorization"), headers.getlist("x-api-key"), peer)

    @classmethod
    def from_metadata(cls, metadata: Iterable[tuple[str, str | bytes]], peer: str | None) -> Caller:
        """gRPC invocation metadata (keys arrive lowercase)."""
        values: dict[str, list[str]] = {"authorization": [], "x-api-key": []}
        for key, value in metadata:
            if key in values:
                values[key].append(value if isinstance(value, str) else value.decode("latin-1"))
        return cls.from_values(values["authorization"], values["x-api-key"], peer)


def _credential(values: Sequence[str]) -> Credential:
    """None, the one value, or all of them (for authentication to refuse)."""
    if len(values) > 1:
        return tuple(values)
    return values[0] if values else None


class RequestPolicy:
    """Authorization for each kind of call, including which endpoints stay open.

    Health, metrics, the API document and gRPC reflection may be opened
    (``MLINFER_AUTH_OPEN_HEALTH`` / ``_METRICS`` / ``_DOCS`` / ``_REFLECTION``) so probes,
    Prometheus and tooling need no credentials; closed, they need ``models:read``.
    Everything else is always checked.
    """

    def __init__(
        self,
        guard: AccessGuard,
        *,
        open_health: bool,
        open_metrics: bool,
        open_docs: bool = True,
        open_reflection: bool = True,
    ) -> None:
        self.guard = guard
        self._open_health = open_health
        self._open_metrics = open_metrics
        self.open_docs = open_docs
        self.open_reflection = open_reflection

    @classmethod
    def from_settings(cls, guard: AccessGuard, settings: Settings) -> RequestPolicy:
        auth = settings.auth
        return cls(
            guard,
            open_health=auth.open_health,
            open_metrics=auth.open_metrics,
            open_docs=auth.open_docs,
            open_reflection=auth.open_reflection,
        )

    @property
    def open_health(self) -> bool:
        return self._open_health

    async def authorize(self, caller: Caller, action: Scope, model: str | None = None) -> Identity:
        """The caller's identity if it may do ``action`` (on ``model``); raises 401/403/429."""
        return await self.guard.check(
            caller.authorization, caller.api_key, action, model, peer=caller.peer
        )

    async def identify(self, caller: Caller, action: Scope) -> Identity:
        """Authentication and ``action``'s scope, before a body naming the model is read."""
        return await self.guard.identify(caller.authorization, caller.api_key, action)

    async def admit(
        self, caller: Caller, identity: Identity, action: Scope, model: str | None
    ) -> None:
        """Then the model's access and rate limits (:meth:`authorize` = both steps)."""
        await self.guard.admit(identity, action, model, peer=caller.peer)

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

    async def authorize_docs(self, caller: Caller) -> Identity | None:
        """``/openapi.json``: open, or ``models:read``."""
        if self.open_docs:
            return None
        return await self.authorize(caller, Scope.MODELS_READ)

    async def authorize_reflection(self, caller: Caller) -> Identity | None:
        """gRPC server reflection: open, or ``models:read``."""
        if self.open_reflection:
            return None
        return await self.authorize(caller, Scope.MODELS_READ)

    def inventory_viewer(self, identity: Identity | None) -> Identity | None:
        """Whose view of the models an open-or-checked route (``/health``) may show: the
        caller's when it was checked, everyone's without authentication, else nobody's."""
        if identity is not None:
            return identity
        return None if self.guard.authenticator.enabled else ANONYMOUS
