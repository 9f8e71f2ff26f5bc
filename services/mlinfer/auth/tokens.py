"""Making HS256 tokens and secrets, for ``mlinfer auth token`` and the README.

Production deployments usually get tokens from an identity provider (RS256/ES256 via
JWKS); a shared HS256 secret is the self-contained option for an appliance.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable

import jwt

MIN_SECRET_BYTES = 32  # RFC 7518 3.2: an HS256 key must be at least as long as the hash
_MIN_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}


def new_jwt_secret() -> str:
    """A random HS256 secret (256 bits, URL-safe text) for ``MLINFER_AUTH_JWT_SECRET``."""
    return secrets.token_urlsafe(32)


def check_secret(secret: str, algorithm: str = "HS256") -> None:
    """``ValueError`` unless ``secret`` is as long as ``algorithm``'s hash (RFC 7518 3.2).

    pyjwt would only warn; a short secret is brute-forceable offline from one token.
    """
    needed = _MIN_BYTES.get(algorithm, MIN_SECRET_BYTES)
    if len(secret.encode("utf-8")) < needed:
        raise ValueError(
            f"the {algorithm} secret must be at least {needed} bytes "
            "(generate one with new_jwt_secret())"
        )


def issue_token(
    secret: str,
    subject: str,
    scopes: Iterable[str],
    models: Iterable[str] | None = None,
    ttl_s: float = 3600.0,
    issuer: str | None = None,
    audience: str | None = None,
    *,
    now: float | None = None,
) -> str:
    """An HS256 JWT that :class:`~mlinfer.auth.authenticator.Authenticator` accepts.

    Claims: ``sub``, ``scope`` (space-separated), ``iat``, ``nbf``, ``exp`` = now + ttl,
    and ``models`` (list of glob patterns), ``iss``, ``aud`` when given. ``now`` (epoch
    seconds) exists for tests that need tokens from the past or the future.
    """
    check_secret(secret)
    if ttl_s <= 0:
        raise ValueError("ttl_s must be positive")
    issued = int(time.time() if now is None else now)
    claims: dict[str, object] = {
        "sub": subject,
        "scope": " ".join(scopes),
        "iat": issued,
        "nbf": issued,
        "exp": issued + int(ttl_s),
    }
    if models is not None:
        claims["models"] = list(models)
    if issuer is not None:
        claims["iss"] = issuer
    if audience is not None:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm="HS256")
