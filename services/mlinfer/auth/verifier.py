"""JWT verification: which key, which algorithm, which claims, and what each failure says.

The key is chosen by the token's ``alg`` *family* before pyjwt sees the token: HS* tokens
are checked only against the shared secret, RS/PS/ES/EdDSA tokens only against a JWKS key
(bound to its own algorithm by :class:`jwt.PyJWK`). So a token that says ``HS256`` is never
checked with an RSA public key as the HMAC secret (the algorithm-confusion attack), and
``none`` is refused by the allow-list (and by :class:`AuthSettings`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jwt

from mlinfer.auth.errors import UnauthenticatedError, echo
from mlinfer.auth.identity import Identity, scopes_from_claims
from mlinfer.auth.jwks import JwksCache
from mlinfer.auth.settings import HMAC_ALGORITHMS, AuthSettings


class JwtVerifier:
    """Checks bearer tokens against :class:`AuthSettings` and turns claims into an Identity."""

    def __init__(self, config: AuthSettings, jwks: JwksCache | None = None) -> None:
        self._config = config
        self._jwks = jwks
        self._allowed = frozenset(config.jwt_algorithms)

    async def verify(self, token: str) -> Identity:
        """The identity in ``token``; :class:`UnauthenticatedError` names what is wrong."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise UnauthenticatedError("malformed token") from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._allowed:
            raise UnauthenticatedError(f"token algorithm '{echo(alg)}' is not accepted")
        key: jwt.PyJWK | str
        if alg in HMAC_ALGORITHMS:
            secret = self._config.jwt_secret_value
            if secret is None:
                raise UnauthenticatedError(f"'{alg}' tokens are not accepted (no shared secret)")
            key = secret
        else:
            if self._jwks is None:
                raise UnauthenticatedError(f"'{alg}' tokens are not accepted (no JWKS)")
            kid = header.get("kid")
            key = await self._jwks.get_key(kid if isinstance(kid, str) else None)
        claims = self._decode(token, key, alg)
        return self._identity(claims)

    def _decode(self, token: str, key: jwt.PyJWK | str, alg: str) -> dict[str, Any]:
        config = self._config
        required = ["exp"]
        if config.jwt_issuer is not None:
            required.append("iss")
        if config.jwt_audience is not None:
            required.append("aud")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=config.jwt_audience,
                issuer=config.jwt_issuer,
                leeway=config.jwt_leeway_seconds,
                options={"require": required, "enforce_minimum_key_length": True},
            )
        except jwt.ExpiredSignatureError:
            raise UnauthenticatedError("token expired") from None
        except jwt.ImmatureSignatureError:
            raise UnauthenticatedError("token not yet valid (nbf/iat in the future)") from None
        except jwt.InvalidAudienceError:
            expected = config.jwt_audience or "(none configured)"
            raise UnauthenticatedError(
                f"wrong audience: token is not for '{echo(expected)}'"
            ) from None
        except jwt.InvalidIssuerError:
            raise UnauthenticatedError(
                f"wrong issuer: expected '{echo(config.jwt_issuer)}'"
            ) from None
        except jwt.exceptions.InvalidSubjectError:
            raise UnauthenticatedError("token 'sub' claim must be a string") from None
        except jwt.MissingRequiredClaimError as exc:
            raise UnauthenticatedError(f"token has no '{echo(exc.claim)}' claim") from None
        except jwt.InvalidSignatureError:
            raise UnauthenticatedError("bad token signature") from None
        except jwt.InvalidAlgorithmError:
            raise UnauthenticatedError(
                f"token algorithm '{echo(alg)}' does not match its key"
            ) from None
        except jwt.InvalidKeyError:
            raise UnauthenticatedError("token signing key is invalid or too weak") from None
        except jwt.DecodeError:
            raise UnauthenticatedError("malformed token") from None
        except jwt.PyJWTError as exc:
            raise UnauthenticatedError(f"invalid token ({type(exc).__name__})") from None
        _require_numeric_dates(claims)
        return claims

    def _identity(self, claims: Mapping[str, Any]) -> Identity:
        subject = next(
            (claims[c] for c in ("sub", "client_id", "azp") if isinstance(claims.get(c), str)),
            None,
        )
        if not subject:
            raise UnauthenticatedError("token has no 'sub' claim")
        models = _models_claim(claims.get(self._config.jwt_models_claim))
        if models is None:
            models = self._config.model_access.get(subject, self._config.default_models)
        exp = claims.get("exp")
        return Identity(
            subject=subject,
            kind="jwt",
            scopes=scopes_from_claims(claims),
            models=models,
            expires_at=float(exp) if isinstance(exp, int | float) else None,
        )


_DATE_CLAIMS = ("exp", "nbf", "iat")


def _require_numeric_dates(claims: Mapping[str, Any]) -> None:
    """RFC 7519 2: a NumericDate is a JSON number; pyjwt also takes ``"1700000000"``."""
    for name in _DATE_CLAIMS:
        value = claims.get(name)
        if name in claims and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise UnauthenticatedError(
                f"token '{name}' claim must be a number of seconds (RFC 7519 NumericDate)"
            )


def _models_claim(value: Any) -> tuple[str, ...] | None:
    """The ``models`` claim as glob patterns: a list of strings or a space-separated string."""
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, list):
        return tuple(v for v in value if isinstance(v, str))
    return None
