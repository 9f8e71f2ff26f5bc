"""Who is calling, and what they may do: :class:`Identity` and the scope vocabulary."""

from __future__ import annotations

import enum
import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

IdentityKind = Literal["jwt", "api_key", "anonymous"]


class Scope(str, enum.Enum):
    """The scopes mlinfer understands; the value is the string in tokens and config.

    ``models:admin`` implies ``models:read`` (whoever may load a model may look at it);
    nothing implies ``infer``.
    """

    INFER = "infer"
    MODELS_READ = "models:read"
    MODELS_ADMIN = "models:admin"


ALL_SCOPES: frozenset[str] = frozenset(s.value for s in Scope)
_IMPLIED: Mapping[str, frozenset[str]] = {Scope.MODELS_ADMIN.value: frozenset({"models:read"})}


def expand_scopes(scopes: Iterable[str]) -> frozenset[str]:
    """``scopes`` plus everything they imply. Unknown scopes are kept (they do no harm)."""
    result = set(scopes)
    for scope in list(result):
        result |= _IMPLIED.get(scope, frozenset())
    return frozenset(result)


def scopes_from_claims(claims: Mapping[str, Any]) -> frozenset[str]:
    """Scopes from ``scope`` (space-separated string, RFC 8693) or ``scp`` (list or string).

    Both are read when both are present, because IdPs differ (Okta and Entra ID use
    ``scp``, Auth0 and Keycloak use ``scope``). Values of any other type are ignored.
    """
    found: set[str] = set()
    for claim in ("scope", "scp"):
        value = claims.get(claim)
        if isinstance(value, str):
            found.update(value.split())
        elif isinstance(value, list):
            found.update(v for v in value if isinstance(v, str) and v)
    return expand_scopes(found)


def model_allowed(patterns: Iterable[str], model: str) -> bool:
    """Whether ``model`` matches one of the glob ``patterns`` (case-sensitive, like names)."""
    return any(fnmatch.fnmatchcase(model, pattern) for pattern in patterns)


@dataclass(frozen=True)
class Identity:
    """An authenticated caller, as every transport sees it.

    ``subject`` is the stable client name that rate limits and logs use: the JWT ``sub``
    (or ``client_id``/``azp``), the API key's configured name, or ``"anonymous"``.
    ``models`` holds glob patterns of the models this caller may touch; ``("*",)`` is all.
    """

    subject: str
    kind: IdentityKind
    scopes: frozenset[str]
    models: tuple[str, ...] = ("*",)
    expires_at: float | None = None  # epoch seconds (JWT ``exp``); None = does not expire

    def has_scope(self, scope: str | Scope) -> bool:
        value = scope.value if isinstance(scope, Scope) else scope
        return value in self.scopes

    def can_access(self, model: str) -> bool:
        return model_allowed(self.models, model)

    def visible_models(self, names: Iterable[str]) -> list[str]:
        """The subset of ``names`` this caller may see (for model lists and the index)."""
        return [name for name in names if self.can_access(name)]


ANONYMOUS = Identity(subject="anonymous", kind="anonymous", scopes=ALL_SCOPES, models=("*",))
"""What every request is when authentication is disabled: everything allowed."""
