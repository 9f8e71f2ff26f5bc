"""What authentication is told: :class:`AuthConfig`, checked once at start-up.

:class:`AuthSettings` is the slice of ``mlinfer.core.settings.Settings`` this package
reads (fields ``auth_*``); :meth:`AuthConfig.from_settings` turns it into a validated
config so that a mistake (``none`` in the algorithm list, a short secret, a JWKS without
an audience) stops the server at start instead of surfacing as odd 401s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from pydantic import SecretStr

from mlinfer.auth.apikeys import ApiKeySpec
from mlinfer.auth.tokens import check_secret

AuthMode = Literal["disabled", "required"]

HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
SUPPORTED_ALGORITHMS = HMAC_ALGORITHMS | ASYMMETRIC_ALGORITHMS


class AuthSettings(Protocol):
    """The ``auth_*`` settings fields (read-only view, so ``Settings`` matches structurally)."""

    @property
    def auth_mode(self) -> AuthMode: ...
    @property
    def auth_jwt_secret(self) -> SecretStr | None: ...
    @property
    def auth_jwks_url(self) -> str | None: ...
    @property
    def auth_jwt_algorithms(self) -> Sequence[str]: ...
    @property
    def auth_jwt_issuer(self) -> str | None: ...
    @property
    def auth_jwt_audience(self) -> str | None: ...
    @property
    def auth_jwt_leeway_seconds(self) -> float: ...
    @property
    def auth_jwt_models_claim(self) -> str: ...
    @property
    def auth_jwks_cache_seconds(self) -> float: ...
    @property
    def auth_jwks_min_refetch_seconds(self) -> float: ...
    @property
    def auth_jwks_timeout_seconds(self) -> float: ...
    @property
    def auth_api_keys(self) -> Sequence[ApiKeySpec]: ...
    @property
    def auth_model_access(self) -> Mapping[str, Sequence[str]]: ...
    @property
    def auth_default_models(self) -> Sequence[str]: ...


@dataclass(frozen=True)
class AuthConfig:
    """Validated authentication settings; see the proposed ``Settings`` fields for meanings."""

    mode: AuthMode = "disabled"
    jwt_secret: str | None = field(default=None, repr=False)
    jwks_url: str | None = None
    jwt_algorithms: tuple[str, ...] = ("HS256", "RS256", "ES256")
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_leeway_s: float = 30.0
    jwt_models_claim: str = "models"
    jwks_cache_s: float = 300.0
    jwks_min_refetch_s: float = 30.0
    jwks_timeout_s: float = 5.0
    api_keys: tuple[ApiKeySpec, ...] = ()
    model_access: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    default_models: tuple[str, ...] = ("*",)

    def __post_init__(self) -> None:
        algorithms = set(self.jwt_algorithms)
        if "none" in {a.lower() for a in algorithms}:
            raise ValueError("'none' can never be an accepted JWT algorithm")
        unknown = algorithms - SUPPORTED_ALGORITHMS
        if unknown:
            raise ValueError(
                f"unsupported JWT algorithms {sorted(unknown)}; "
                f"choose from {sorted(SUPPORTED_ALGORITHMS)}"
            )
        if self.jwt_leeway_s < 0 or self.jwks_min_refetch_s < 0:
            raise ValueError("JWT leeway and JWKS refetch interval must not be negative")
        if self.mode == "disabled":
            return
        if self.jwt_secret is None and self.jwks_url is None and not self.api_keys:
            raise ValueError(
                "auth mode 'required' needs a JWT secret (MLINFER_AUTH_JWT_SECRET), a JWKS URL "
                "(MLINFER_AUTH_JWKS_URL) or API keys (MLINFER_AUTH_API_KEYS); to run without "
                "authentication set MLINFER_AUTH_MODE=disabled explicitly"
            )
        if self.jwt_secret is not None:
            for algorithm in sorted(algorithms & HMAC_ALGORITHMS):
                check_secret(self.jwt_secret, algorithm)
            if not algorithms & HMAC_ALGORITHMS:
                raise ValueError("a JWT secret is configured but no HS* algorithm is allowed")
        if self.jwks_url is not None:
            if not algorithms & ASYMMETRIC_ALGORITHMS:
                raise ValueError(
                    "a JWKS URL is configured but no RS/PS/ES/EdDSA algorithm is allowed"
                )
            if not self.jwt_audience:
                # An IdP signs tokens for many applications; without an audience check
                # every one of them would be accepted here.
                raise ValueError("a JWKS URL needs an audience (auth_jwt_audience)")

    @property
    def jwt_enabled(self) -> bool:
        return self.jwt_secret is not None or self.jwks_url is not None

    @classmethod
    def from_settings(cls, settings: AuthSettings) -> AuthConfig:
        secret = settings.auth_jwt_secret
        return cls(
            mode=settings.auth_mode,
            jwt_secret=secret.get_secret_value() if secret is not None else None,
            jwks_url=settings.auth_jwks_url,
            jwt_algorithms=tuple(settings.auth_jwt_algorithms),
            jwt_issuer=settings.auth_jwt_issuer,
            jwt_audience=settings.auth_jwt_audience,
            jwt_leeway_s=settings.auth_jwt_leeway_seconds,
            jwt_models_claim=settings.auth_jwt_models_claim,
            jwks_cache_s=settings.auth_jwks_cache_seconds,
            jwks_min_refetch_s=settings.auth_jwks_min_refetch_seconds,
            jwks_timeout_s=settings.auth_jwks_timeout_seconds,
            api_keys=tuple(settings.auth_api_keys),
            model_access={k: tuple(v) for k, v in settings.auth_model_access.items()},
            default_models=tuple(settings.auth_default_models),
        )
