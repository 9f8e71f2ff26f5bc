"""The one entry point transports call: credentials in, :class:`Identity` out.

Rules (the same for REST headers and gRPC metadata):

- ``Authorization: Bearer <jwt>`` carries a JWT, ``X-API-Key: <key>`` an API key. Sending
  both, or either one more than once (two headers, two metadata values), is an error
  (``invalid_request``), so a request never has two identities and no proxy in front can
  disagree with us about which one counts.
- Other schemes (``Basic`` ...) and malformed headers are ``invalid_request``; a request
  with no credentials gets the bare ``Bearer realm="mlinfer"`` challenge (RFC 6750).
- Mode ``disabled`` ignores credentials and returns :data:`ANONYMOUS` (all scopes, all
  models); the server is expected to log loudly that it runs without authentication.
"""

from __future__ import annotations

from collections.abc import Sequence

from mlinfer.auth.apikeys import KEY_PREFIX, ApiKeyStore
from mlinfer.auth.errors import UnauthenticatedError, echo
from mlinfer.auth.identity import ANONYMOUS, Identity
from mlinfer.auth.jwks import JwksCache
from mlinfer.auth.settings import HMAC_ALGORITHMS, AuthSettings
from mlinfer.auth.verifier import JwtVerifier

# A credential as a transport received it: one value, every value it received, or none.
Credential = str | Sequence[str] | None


def _single(values: Credential, name: str) -> str | None:
    if values is None or isinstance(values, str):
        return values
    if len(values) > 1:
        raise UnauthenticatedError(
            f"{len(values)} '{name}' values: send exactly one", error="invalid_request"
        )
    return values[0] if values else None


class Authenticator:
    """Authenticates requests according to :class:`AuthSettings` (built once per process)."""

    def __init__(self, config: AuthSettings, *, jwks: JwksCache | None = None) -> None:
        self.config = config
        if jwks is None and config.jwks_url is not None:
            jwks = JwksCache(
                config.jwks_url,
                allowed_algorithms=set(config.jwt_algorithms) - HMAC_ALGORITHMS,
                min_refetch_interval_s=config.jwks_min_refetch_seconds,
                default_ttl_s=config.jwks_cache_seconds,
                timeout_s=config.jwks_timeout_seconds,
            )
        self.jwks = jwks
        self._verifier = JwtVerifier(config, jwks) if config.jwt_enabled else None
        self._api_keys = ApiKeyStore(config.api_keys)

    @property
    def enabled(self) -> bool:
        return self.config.mode != "disabled"

    async def start(self) -> None:
        """Fetch the JWKS ahead of the first request (failures are logged, not raised)."""
        if self.enabled and self.jwks is not None:
            await self.jwks.refresh()

    async def authenticate(self, authorization: Credential, api_key: Credential) -> Identity:
        """The caller's identity from the ``Authorization`` and ``X-API-Key`` values.

        Raises :class:`UnauthenticatedError` (401) when credentials are missing or bad,
        and ``UnavailableError`` (503) when signing keys cannot be fetched.
        """
        if not self.enabled:
            return ANONYMOUS
        authorization = (_single(authorization, "Authorization") or "").strip() or None
        api_key = (_single(api_key, "X-API-Key") or "").strip() or None
        if authorization is not None and api_key is not None:
            raise UnauthenticatedError(
                "send either 'Authorization' or 'X-API-Key', not both", error="invalid_request"
            )
        if authorization is not None:
            return await self._bearer(authorization)
        if api_key is not None:
            return self._api_key(api_key)
        raise UnauthenticatedError(f"missing credentials: send {self._accepted()}", error=None)

    async def _bearer(self, authorization: str) -> Identity:
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer":
            raise UnauthenticatedError(
                f"unsupported authorization scheme '{echo(scheme)}'; use Bearer",
                error="invalid_request",
            )
        if not token or " " in token:
            raise UnauthenticatedError(
                "the Authorization header must be 'Bearer <token>'", error="invalid_request"
            )
        if token.startswith(KEY_PREFIX):
            raise UnauthenticatedError(
                "API keys go in the 'X-API-Key' header, not in Authorization",
                error="invalid_request",
            )
        if self._verifier is None:
            raise UnauthenticatedError(f"bearer tokens are not accepted; send {self._accepted()}")
        return await self._verifier.verify(token)

    def _api_key(self, key: str) -> Identity:
        if not len(self._api_keys):
            raise UnauthenticatedError(f"API keys are not accepted; send {self._accepted()}")
        identity = self._api_keys.lookup(key)
        if identity is None:
            raise UnauthenticatedError("invalid API key")
        return identity

    def _accepted(self) -> str:
        ways = []
        if self._verifier is not None:
            ways.append("'Authorization: Bearer <token>'")
        if len(self._api_keys):
            ways.append("'X-API-Key: <key>'")
        return " or ".join(ways)
