"""What authentication is told: :class:`AuthSettings` (environment prefix ``MLINFER_AUTH_``).

Checked once when it is built, so that a mistake (``none`` in the algorithm list, a short
secret, a JWKS without an audience) stops the server at start instead of surfacing as odd
401s.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mlinfer.auth.apikeys import ApiKeySpec
from mlinfer.auth.tokens import check_secret

AuthMode = Literal["disabled", "required"]

HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
SUPPORTED_ALGORITHMS = HMAC_ALGORITHMS | ASYMMETRIC_ALGORITHMS


class AuthSettings(BaseSettings):
    """Authentication and the credential-free routes (``MLINFER_AUTH_*``)."""

    model_config = SettingsConfigDict(env_prefix="MLINFER_AUTH_", extra="ignore", frozen=True)

    mode: AuthMode = Field(
        default="required",
        description="disabled: every request is anonymous with all scopes (logged loudly); "
        "required: JWT and/or API key on every request.",
    )
    jwt_secret: SecretStr | None = Field(
        default=None, description="Shared HS256 secret (>= 32 bytes); enables HS256 tokens."
    )
    jwks_url: str | None = Field(
        default=None, description="JWKS URL of the identity provider; enables RS/ES tokens."
    )
    jwt_algorithms: tuple[str, ...] = Field(
        default=("HS256", "RS256", "ES256"),
        description="Accepted JWT algorithms ('none' is always refused).",
    )
    jwt_issuer: str | None = Field(
        default=None, description="Required 'iss' of tokens; unset = not checked."
    )
    jwt_audience: str | None = Field(
        default=None, description="Required 'aud' of tokens; mandatory with a JWKS URL."
    )
    jwt_leeway_seconds: float = Field(
        default=30.0, description="Clock skew tolerated on exp/nbf/iat."
    )
    jwt_models_claim: str = Field(
        default="models", description="Claim holding the model glob allow-list."
    )
    jwks_cache_seconds: float = Field(
        default=300.0, description="JWKS cache time when the response has no Cache-Control."
    )
    jwks_min_refetch_seconds: float = Field(
        default=30.0, description="Minimum time between JWKS fetches (unknown kids included)."
    )
    jwks_timeout_seconds: float = Field(default=5.0, description="JWKS fetch timeout.")
    api_keys: tuple[ApiKeySpec, ...] = Field(
        default=(),
        description='API keys as JSON: [{"name", "hash": "sha256:...", "scopes", "models"}].',
    )
    model_access: dict[str, tuple[str, ...]] = Field(
        default_factory=dict,
        description="Subject -> model globs, for tokens without a models claim.",
    )
    default_models: tuple[str, ...] = Field(
        default=("*",),
        description="Model globs for tokens with neither a models claim nor a mapping.",
    )
    open_health: bool = Field(
        default=True,
        description="Health endpoints (REST /v2/health/*, /v2, /health; gRPC ServerLive/Ready, "
        "ServerMetadata, grpc.health.v1) need no credentials (probes, load balancers); "
        "/health then lists no models while auth is on. false: models:read, and /health lists "
        "the models the caller may see.",
    )
    open_metrics: bool = Field(
        default=True, description="/metrics needs no credentials (Prometheus scrapes)."
    )
    open_docs: bool = Field(
        default=True,
        description="/openapi.json, /docs and /redoc need no credentials. false: /openapi.json "
        "needs models:read and /docs, /redoc are not served (a browser page cannot send the "
        "credential header).",
    )
    open_reflection: bool = Field(
        default=True,
        description="gRPC server reflection needs no credentials. false: models:read.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> AuthSettings:
        algorithms = set(self.jwt_algorithms)
        if "none" in {a.lower() for a in algorithms}:
            raise ValueError("'none' can never be an accepted JWT algorithm")
        unknown = algorithms - SUPPORTED_ALGORITHMS
        if unknown:
            raise ValueError(
                f"unsupported JWT algorithms {sorted(unknown)}; "
                f"choose from {sorted(SUPPORTED_ALGORITHMS)}"
            )
        if self.jwt_leeway_seconds < 0 or self.jwks_min_refetch_seconds < 0:
            raise ValueError("JWT leeway and JWKS refetch interval must not be negative")
        if self.mode == "disabled":
            return self
        if self.jwt_secret is None and self.jwks_url is None and not self.api_keys:
            raise ValueError(
                "auth mode 'required' needs a JWT secret (MLINFER_AUTH_JWT_SECRET), a JWKS URL "
                "(MLINFER_AUTH_JWKS_URL) or API keys (MLINFER_AUTH_API_KEYS); to run without "
                "authentication set MLINFER_AUTH_MODE=disabled explicitly"
            )
        if self.jwt_secret is not None:
            for algorithm in sorted(algorithms & HMAC_ALGORITHMS):
                check_secret(self.jwt_secret.get_secret_value(), algorithm)
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
                raise ValueError("a JWKS URL needs an audience (MLINFER_AUTH_JWT_AUDIENCE)")
        return self

    @property
    def jwt_enabled(self) -> bool:
        return self.jwt_secret is not None or self.jwks_url is not None

    @property
    def jwt_secret_value(self) -> str | None:
        return self.jwt_secret.get_secret_value() if self.jwt_secret is not None else None
