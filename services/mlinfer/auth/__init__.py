"""Authentication and authorization, independent of transport.

REST and gRPC adapters pass plain values (the ``Authorization`` and ``X-API-Key`` header
or metadata values, a model name) to :class:`Authenticator` and :func:`authorize`, and map
the errors raised here like every other ``MLInferError``: :class:`UnauthenticatedError`
is 401 / UNAUTHENTICATED and :class:`PermissionDeniedError` 403 / PERMISSION_DENIED, both
with a ready ``www_authenticate`` header value for REST.
"""

from mlinfer.auth.apikeys import ApiKeySpec, ApiKeyStore, hash_api_key, new_api_key
from mlinfer.auth.authenticator import Authenticator, Credential
from mlinfer.auth.errors import PermissionDeniedError, UnauthenticatedError
from mlinfer.auth.identity import ALL_SCOPES, ANONYMOUS, Identity, Scope
from mlinfer.auth.jwks import JwksCache
from mlinfer.auth.policy import authorize
from mlinfer.auth.settings import AuthMode, AuthSettings
from mlinfer.auth.tokens import issue_token, new_jwt_secret

__all__ = [
    "ALL_SCOPES",
    "ANONYMOUS",
    "ApiKeySpec",
    "ApiKeyStore",
    "AuthMode",
    "AuthSettings",
    "Authenticator",
    "Credential",
    "Identity",
    "JwksCache",
    "PermissionDeniedError",
    "Scope",
    "UnauthenticatedError",
    "authorize",
    "hash_api_key",
    "issue_token",
    "new_api_key",
    "new_jwt_secret",
]
