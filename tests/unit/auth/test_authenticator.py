"""Header rules, modes and configuration of the Authenticator."""

from __future__ import annotations

import time
from typing import Any

import pytest

from mlinfer.auth import (
    ANONYMOUS,
    ApiKeySpec,
    Authenticator,
    AuthSettings,
    UnauthenticatedError,
    hash_api_key,
    issue_token,
    new_api_key,
)

KEY = new_api_key()


def _authenticator(secret: str | None = None, keys: bool = True) -> Authenticator:
    specs = (ApiKeySpec(name="camera-7", hash=hash_api_key(KEY), models=["detector"]),)
    return Authenticator(
        AuthSettings(mode="required", jwt_secret=secret, api_keys=specs if keys else ())
    )


async def _reject(auth: Authenticator, authorization: str | None, key: str | None) -> Any:
    with pytest.raises(UnauthenticatedError) as info:
        await auth.authenticate(authorization, key)
    return info.value


async def test_api_key_header() -> None:
    identity = await _authenticator().authenticate(None, KEY)
    assert (identity.subject, identity.kind, identity.models) == (
        "camera-7",
        "api_key",
        ("detector",),
    )


async def test_invalid_api_key() -> None:
    error = await _reject(_authenticator(), None, new_api_key())
    assert error.message == "invalid API key"
    assert error.error == "invalid_token"


async def test_missing_credentials_get_the_bare_challenge(secret: str) -> None:
    error = await _reject(_authenticator(secret), None, "  ")
    assert error.www_authenticate == 'Bearer realm="mlinfer"'
    assert error.message == (
        "missing credentials: send 'Authorization: Bearer <token>' or 'X-API-Key: <key>'"
    )


async def test_both_credentials_are_refused(secret: str) -> None:
    token = issue_token(secret, "a", ["infer"])
    error = await _reject(_authenticator(secret), f"Bearer {token}", KEY)
    assert error.error == "invalid_request"
    assert "not both" in error.message


async def test_api_key_in_authorization_is_refused_with_a_hint(secret: str) -> None:
    error = await _reject(_authenticator(secret), f"Bearer {KEY}", None)
    assert error.message == "API keys go in the 'X-API-Key' header, not in Authorization"
    assert KEY not in error.www_authenticate


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Basic dXNlcjpwYXNz", "unsupported authorization scheme 'Basic'; use Bearer"),
        ("Bearer", "the Authorization header must be 'Bearer <token>'"),
        ("Bearer a b", "the Authorization header must be 'Bearer <token>'"),
    ],
)
async def test_malformed_authorization(secret: str, header: str, message: str) -> None:
    error = await _reject(_authenticator(secret), header, None)
    assert (error.message, error.error) == (message, "invalid_request")


async def test_bearer_when_only_api_keys_are_configured(secret: str) -> None:
    token = issue_token(secret, "a", ["infer"])
    error = await _reject(_authenticator(), f"Bearer {token}", None)
    assert error.message == "bearer tokens are not accepted; send 'X-API-Key: <key>'"


async def test_api_key_when_only_tokens_are_configured(secret: str) -> None:
    error = await _reject(_authenticator(secret, keys=False), None, KEY)
    assert error.message == ("API keys are not accepted; send 'Authorization: Bearer <token>'")


async def test_disabled_mode_is_anonymous_with_everything() -> None:
    auth = Authenticator(AuthSettings(mode="disabled"))
    assert not auth.enabled
    assert await auth.authenticate(None, None) is ANONYMOUS
    assert await auth.authenticate("Bearer garbage", "garbage") is ANONYMOUS


def test_required_mode_needs_some_credentials() -> None:
    with pytest.raises(
        ValueError, match=r"needs a JWT secret .* or API keys .*MLINFER_AUTH_MODE=disabled"
    ):
        AuthSettings(mode="required")


async def test_from_settings_reads_the_environment(
    monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    monkeypatch.setenv("MLINFER_AUTH_MODE", "required")
    monkeypatch.setenv("MLINFER_AUTH_JWT_SECRET", secret)
    monkeypatch.setenv("MLINFER_AUTH_JWT_AUDIENCE", "mlinfer")
    monkeypatch.setenv(
        "MLINFER_AUTH_API_KEYS",
        f'[{{"name": "camera-7", "hash": "{hash_api_key(KEY)}", "scopes": ["infer"]}}]',
    )
    monkeypatch.setenv("MLINFER_AUTH_MODEL_ACCESS", '{"bob": ["digits"]}')
    settings = AuthSettings()
    assert "SecretStr" in repr(settings.jwt_secret) and secret not in repr(settings)
    auth = Authenticator(settings)
    assert (await auth.authenticate(None, KEY)).scopes == {"infer"}
    token = issue_token(secret, "bob", ["infer"], audience="mlinfer", now=time.time())
    assert (await auth.authenticate(f"Bearer {token}", None)).models == ("digits",)


async def test_repeated_credentials_are_refused(secret: str) -> None:
    auth = _authenticator(secret)
    token = "Bearer " + issue_token(secret, "alice", ["infer"])
    # Every value a transport received: one is fine, two are refused whatever they hold.
    assert (await auth.authenticate((token,), ())).subject == "alice"
    assert (await auth.authenticate((), (KEY,))).subject == "camera-7"
    for authorization, key in (((token, token), ()), ((token, "Bearer x"), ()), ((), (KEY, KEY))):
        with pytest.raises(UnauthenticatedError, match="values: send exactly one") as info:
            await auth.authenticate(authorization, key)
        assert info.value.error == "invalid_request"
    disabled = Authenticator(AuthSettings(mode="disabled"))
    assert await disabled.authenticate((token, token), ()) is ANONYMOUS  # credentials ignored
