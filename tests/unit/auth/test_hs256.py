"""HS256 bearer tokens: the happy path and every way a token can be wrong."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from mlinfer.auth import Authenticator, AuthSettings, Scope, UnauthenticatedError, issue_token

ISSUER = "https://issuer.test"
AUDIENCE = "mlinfer"


def _authenticator(secret: str, **overrides: object) -> Authenticator:
    fields: dict[str, object] = {
        "mode": "required",
        "jwt_secret": secret,
        "jwt_issuer": ISSUER,
        "jwt_audience": AUDIENCE,
        "jwt_leeway_seconds": 5.0,
    }
    fields.update(overrides)
    return Authenticator(AuthSettings(**fields))  # type: ignore[arg-type]


def _token(secret: str, **overrides: object) -> str:
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": "alice",
        "scope": "infer models:read",
        "models": ["digits", "image_*"],
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "nbf": now,
        "exp": now + 60,
    }
    claims.update(overrides)
    for name in [k for k, v in claims.items() if v is None]:
        del claims[name]
    return jwt.encode(claims, secret, algorithm="HS256")


async def _reject(auth: Authenticator, token: str) -> UnauthenticatedError:
    with pytest.raises(UnauthenticatedError) as info:
        await auth.authenticate(f"Bearer {token}", None)
    assert info.value.status.value == 401
    return info.value


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_valid_token_gives_identity(secret: str) -> None:
    identity = await _authenticator(secret).authenticate(f"Bearer {_token(secret)}", None)
    assert identity.subject == "alice"
    assert identity.kind == "jwt"
    assert identity.scopes == {"infer", "models:read"}
    assert identity.models == ("digits", "image_*")
    assert identity.expires_at is not None and identity.expires_at > time.time()


async def test_issue_token_round_trips(secret: str) -> None:
    token = issue_token(
        secret, "bob", [Scope.INFER.value], ["digits"], ttl_s=60, issuer=ISSUER, audience=AUDIENCE
    )
    identity = await _authenticator(secret).authenticate(f"bearer {token}", None)
    assert (identity.subject, identity.scopes, identity.models) == (
        "bob",
        frozenset({"infer"}),
        ("digits",),
    )


async def test_expired_token(secret: str) -> None:
    now = int(time.time())
    error = await _reject(_authenticator(secret), _token(secret, iat=now - 120, exp=now - 60))
    assert error.message == "token expired"
    assert error.www_authenticate == (
        'Bearer realm="mlinfer", error="invalid_token", error_description="token expired"'
    )


async def test_leeway_accepts_just_expired_token(secret: str) -> None:
    now = int(time.time())
    identity = await _authenticator(secret).authenticate(
        f"Bearer {_token(secret, exp=now - 2)}", None
    )
    assert identity.subject == "alice"


async def test_token_not_yet_valid(secret: str) -> None:
    now = int(time.time())
    error = await _reject(_authenticator(secret), _token(secret, nbf=now + 60, iat=now))
    assert "not yet valid" in error.message


async def test_wrong_issuer(secret: str) -> None:
    error = await _reject(_authenticator(secret), _token(secret, iss="https://evil.test"))
    assert error.message == f"wrong issuer: expected '{ISSUER}'"


async def test_wrong_audience(secret: str) -> None:
    error = await _reject(_authenticator(secret), _token(secret, aud="other-app"))
    assert error.message == f"wrong audience: token is not for '{AUDIENCE}'"


async def test_missing_audience_when_one_is_configured(secret: str) -> None:
    error = await _reject(_authenticator(secret), _token(secret, aud=None))
    assert error.message == "token has no 'aud' claim"


async def test_token_without_expiry_is_refused(secret: str) -> None:
    error = await _reject(_authenticator(secret), _token(secret, exp=None))
    assert error.message == "token has no 'exp' claim"


async def test_bad_signature(secret: str) -> None:
    forged = _token("x" * 40)
    error = await _reject(_authenticator(secret), forged)
    assert error.message == "bad token signature"
    assert secret not in error.www_authenticate


async def test_malformed_token(secret: str) -> None:
    error = await _reject(_authenticator(secret), "not.a.jwt")
    assert error.message == "malformed token"


async def test_alg_none_is_refused(secret: str) -> None:
    now = int(time.time())
    claims = {
        "sub": "mallory",
        "scope": "models:admin",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "exp": now + 60,
    }
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    error = await _reject(_authenticator(secret), unsigned)
    assert error.message == "token algorithm 'none' is not accepted"


def test_alg_none_cannot_be_configured(secret: str) -> None:
    with pytest.raises(ValueError, match="'none' can never"):
        AuthSettings(mode="required", jwt_secret=secret, jwt_algorithms=("HS256", "none"))


async def test_algorithm_outside_allow_list(secret: str) -> None:
    token = jwt.encode(
        {"sub": "a", "exp": int(time.time()) + 60, "iss": ISSUER, "aud": AUDIENCE},
        secret * 2,
        algorithm="HS512",
    )
    error = await _reject(_authenticator(secret), token)
    assert error.message == "token algorithm 'HS512' is not accepted"


async def test_subject_is_required(secret: str) -> None:
    error = await _reject(_authenticator(secret), _token(secret, sub=None))
    assert error.message == "token has no 'sub' claim"


async def test_client_id_stands_in_for_sub(secret: str) -> None:
    token = _token(secret, sub=None, client_id="camera-7")
    identity = await _authenticator(secret).authenticate(f"Bearer {token}", None)
    assert identity.subject == "camera-7"


async def test_scp_list_and_configured_model_mapping(secret: str) -> None:
    auth = _authenticator(secret, model_access={"alice": ("resnet*",)})
    token = _token(secret, scope=None, scp=["infer", "models:admin"], models=None)
    identity = await auth.authenticate(f"Bearer {token}", None)
    assert identity.scopes == {"infer", "models:admin", "models:read"}
    assert identity.models == ("resnet*",)


async def test_default_models_when_no_claim_and_no_mapping(secret: str) -> None:
    auth = _authenticator(secret, default_models=())
    identity = await auth.authenticate(f"Bearer {_token(secret, models=None)}", None)
    assert identity.models == ()
    assert not identity.can_access("digits")


def test_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        AuthSettings(mode="required", jwt_secret="short")
    with pytest.raises(ValueError, match="at least 32 bytes"):
        issue_token("short", "a", ["infer"])
    with pytest.raises(ValueError, match="HS512 secret must be at least 64 bytes"):
        AuthSettings(mode="required", jwt_secret="s" * 40, jwt_algorithms=("HS256", "HS512"))
