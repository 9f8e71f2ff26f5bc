"""Authorization: does this identity have the scope and model access for an action?

Transports call :func:`authorize` once per request, after authentication and before
touching the model, so a refused caller learns nothing about whether the model exists.
"""

from __future__ import annotations

from mlinfer.auth.errors import PermissionDeniedError, echo
from mlinfer.auth.identity import Identity, Scope


def authorize(identity: Identity, action: Scope | str, model: str | None = None) -> None:
    """Raise :class:`PermissionDeniedError` unless ``identity`` may do ``action`` on ``model``.

    ``action`` is the scope the call needs (``Scope.INFER`` for inference,
    ``Scope.MODELS_READ`` for metadata/config/stats/index, ``Scope.MODELS_ADMIN`` for
    load/unload). ``model=None`` is for calls not about one model (the repository index);
    callers then filter the listing with :meth:`Identity.visible_models`.
    """
    scope = action.value if isinstance(action, Scope) else action
    target = f" for model '{echo(model)}'" if model is not None else ""
    if not identity.has_scope(scope):
        raise PermissionDeniedError(
            f"'{echo(identity.subject)}' is missing scope '{scope}'{target}", scope=scope
        )
    if model is not None and not identity.can_access(model):
        raise PermissionDeniedError(
            f"'{echo(identity.subject)}' may not access model '{echo(model)}'", scope=scope
        )
