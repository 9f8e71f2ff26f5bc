"""Authentication (401) and authorization (403) errors.

Both carry the value of the ``WWW-Authenticate`` header that REST sends with them
(RFC 6750 section 3) in the ``www_authenticate`` that every :class:`MLInferError` declares,
so REST sends it from ``exc.headers()`` and gRPC can ignore it. Messages name the problem
("token expired", "missing scope 'infer' for model 'x'") and never echo a secret; anything a
client sent that ends up in a message is shortened and stripped to characters RFC 6750
allows in a quoted value.
"""

from __future__ import annotations

from mlinfer.core.errors import MLInferError, StatusCode

REALM = "mlinfer"
_MAX_ECHO = 64


def quote_safe(text: str, limit: int = 200) -> str:
    """``text`` with only the characters RFC 6750 allows inside ``error_description``.

    The grammar is %x20-21 / %x23-5B / %x5D-7E: printable ASCII without ``"`` and ``\\``.
    """
    cleaned = "".join(ch if 0x20 <= ord(ch) <= 0x7E and ch not in '"\\' else "?" for ch in text)
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 3] + "..."


def echo(value: object) -> str:
    """A client-supplied value (kid, algorithm, model) shortened and without control
    characters, to quote in a message (the header form is further cleaned by
    :func:`quote_safe`)."""
    text = "".join("?" if ord(ch) < 0x20 or ord(ch) == 0x7F else ch for ch in str(value))
    return text if len(text) <= _MAX_ECHO else text[: _MAX_ECHO - 3] + "..."


def bearer_challenge(error: str | None = None, description: str | None = None) -> str:
    """``Bearer realm="mlinfer"[, error="..."][, error_description="..."]``.

    RFC 6750 says a request without any credentials gets the bare challenge (no error
    code), so ``error=None`` produces just the realm.
    """
    parts = [f'Bearer realm="{REALM}"']
    if error is not None:
        parts.append(f'error="{error}"')
        if description:
            parts.append(f'error_description="{quote_safe(description)}"')
    return ", ".join(parts)


class UnauthenticatedError(MLInferError):
    """No credentials, or credentials that do not prove an identity (HTTP 401).

    ``error`` is the RFC 6750 code: ``invalid_request`` (malformed header, two kinds of
    credentials), ``invalid_token`` (bad/expired/unknown token or key) or ``None`` when
    the request carried no credentials at all.
    """

    status = StatusCode.UNAUTHENTICATED

    def __init__(self, message: str, *, error: str | None = "invalid_token") -> None:
        super().__init__(message, www_authenticate=bearer_challenge(error, message))
        self.error = error


class PermissionDeniedError(MLInferError):
    """A known identity that lacks the scope or model access a call needs (HTTP 403).

    RFC 6750 calls this ``insufficient_scope``; the challenge names the scope needed.
    """

    status = StatusCode.PERMISSION_DENIED

    def __init__(self, message: str, *, scope: str | None = None) -> None:
        challenge = bearer_challenge("insufficient_scope", message)
        if scope is not None:
            challenge += f', scope="{quote_safe(scope)}"'
        super().__init__(message, www_authenticate=challenge)
        self.scope = scope
