"""JwtVerifier on its own: default configuration, weak keys, claim shapes, every refusal."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from mlinfer.auth import AuthSettings, JwksCache, UnauthenticatedError
from mlinfer.auth.identity import Identity
from mlinfer.auth.verifier import JwtVerifier
from tests.support.clock import FakeClock
from tests.support.jwks_server import JwksServer, SigningKey

ISSUER = "https://issuer.test"


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {"sub": "alice", "scope": "infer", "iat": now, "exp": now + 60}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _hs(secret: str, **overrides: Any) -> str:
    return jwt.encode(_claims(**overrides), secret, algorithm="HS256")


def _verifier(secret: str | None, **fields: Any) -> JwtVerifier:
    config = AuthSettings(mode="required", jwt_secret=secret, **fields) if secret else None
    return JwtVerifier(config or AuthSettings(mode="disabled", **fields))


async def _refusal(verifier: JwtVerifier, token: str) -> str:
    with pytest.raises(UnauthenticatedError) as info:
        await verifier.verify(token)
    return info.value.message


async def test_default_config_takes_tokens_without_audience_or_issuer(secret: str) -> None:
    identity = await _verifier(secret).verify(_hs(secret))
    assert identity == Identity(
        subject="alice",
        kind="jwt",
        scopes=frozenset({"infer"}),
        models=("*",),
        expires_at=float(_claims()["exp"]),
    )


async def test_default_config_refuses_a_token_meant_for_some_audience(secret: str) -> None:
    message = await _refusal(_verifier(secret), _hs(secret, aud="billing"))
    assert message == "wrong audience: token is not for '(none configured)'"


async def test_configured_issuer_is_required_and_checked(secret: str) -> None:
    verifier = _verifier(secret, jwt_issuer=ISSUER)
    assert (await verifier.verify(_hs(secret, iss=ISSUER))).subject == "alice"
    assert await _refusal(verifier, _hs(secret)) == "token has no 'iss' claim"
    assert await _refusal(verifier, _hs(secret, iss="x")) == f"wrong issuer: expected '{ISSUER}'"


async def test_leeway_is_the_configured_one(secret: str) -> None:
    now = int(time.time())
    strict = _verifier(secret, jwt_leeway_seconds=0.0)
    assert await _refusal(strict, _hs(secret, exp=now - 10)) == "token expired"
    lenient = _verifier(secret, jwt_leeway_seconds=120.0)
    assert (await lenient.verify(_hs(secret, exp=now - 10))).subject == "alice"


async def test_models_claim_as_a_space_separated_string(secret: str) -> None:
    identity = await _verifier(secret).verify(_hs(secret, models="digits  image_*"))
    assert identity.models == ("digits", "image_*")


async def test_models_claim_as_a_list_keeps_only_strings(secret: str) -> None:
    identity = await _verifier(secret).verify(_hs(secret, models=["digits", 7, None, "resnet"]))
    assert identity.models == ("digits", "resnet")


async def test_models_claim_of_another_type_falls_back_to_the_configuration(secret: str) -> None:
    verifier = _verifier(secret, model_access={"alice": ("mapped",)}, default_models=("fallback",))
    assert (await verifier.verify(_hs(secret, models=42))).models == ("mapped",)
    assert (await verifier.verify(_hs(secret, sub="bob", models=42))).models == ("fallback",)
    # An empty claim is an answer of its own: no models, not the configured fallback.
    assert (await verifier.verify(_hs(secret, models=""))).models == ()


async def test_models_claim_name_is_configurable(secret: str) -> None:
    verifier = _verifier(secret, jwt_models_claim="mlinfer/models")
    token = _hs(secret, models=["ignored"], **{"mlinfer/models": ["chosen"]})
    assert (await verifier.verify(token)).models == ("chosen",)


@pytest.mark.parametrize(
    ("claims", "subject"),
    [
        ({"sub": "s", "client_id": "c", "azp": "a"}, "s"),
        ({"sub": None, "client_id": "c", "azp": "a"}, "c"),
        ({"sub": None, "azp": "web-frontend"}, "web-frontend"),
        ({"sub": None, "client_id": 13, "azp": "a"}, "a"),  # only strings name a subject
    ],
)
async def test_subject_falls_back_to_client_id_then_azp(
    secret: str, claims: dict[str, Any], subject: str
) -> None:
    assert (await _verifier(secret).verify(_hs(secret, **claims))).subject == subject


@pytest.mark.parametrize("claims", [{"sub": None}, {"sub": ""}, {"sub": None, "client_id": 5}])
async def test_token_without_a_usable_subject_is_refused(
    secret: str, claims: dict[str, Any]
) -> None:
    assert await _refusal(_verifier(secret), _hs(secret, **claims)) == "token has no 'sub' claim"


async def test_a_subject_that_is_not_a_string_is_named(secret: str) -> None:
    message = await _refusal(_verifier(secret), _hs(secret, sub=12))
    assert message == "token 'sub' claim must be a string"


async def test_expiry_of_any_number_type(secret: str) -> None:
    now = time.time()
    identity = await _verifier(secret).verify(_hs(secret, exp=now + 60.5))
    assert identity.expires_at == pytest.approx(now + 60.5)


async def test_hmac_token_without_a_secret_and_rsa_token_without_jwks(secret: str) -> None:
    no_secret = JwtVerifier(AuthSettings(mode="disabled"))
    assert await _refusal(no_secret, _hs(secret)) == (
        "'HS256' tokens are not accepted (no shared secret)"
    )
    rsa_token = SigningKey.rsa("k").sign(_claims())
    assert await _refusal(_verifier(secret), rsa_token) == (
        "'RS256' tokens are not accepted (no JWKS)"
    )


async def test_garbage_and_undecodable_tokens_are_malformed(secret: str) -> None:
    assert await _refusal(_verifier(secret), "garbage") == "malformed token"
    header = _hs(secret).split(".")[0]
    assert await _refusal(_verifier(secret), f"{header}.!!!.sig") == "malformed token"


async def test_header_without_an_algorithm_is_named(secret: str) -> None:
    _, payload, signature = _hs(secret).split(".")
    unsigned = jwt.utils.base64url_encode(b'{"typ":"JWT"}').decode()
    message = await _refusal(_verifier(secret), f"{unsigned}.{payload}.{signature}")
    assert message == "token algorithm 'None' is not accepted"


async def test_not_yet_valid_token(secret: str) -> None:
    message = await _refusal(_verifier(secret), _hs(secret, nbf=int(time.time()) + 600))
    assert message == "token not yet valid (nbf/iat in the future)"


async def test_signed_payload_that_is_not_json_is_malformed(secret: str) -> None:
    token = jwt.api_jws.encode(b"not json", secret, algorithm="HS256")
    assert await _refusal(_verifier(secret), token) == "malformed token"


async def test_other_claim_errors_are_named_by_type(secret: str) -> None:
    message = await _refusal(_verifier(secret), _hs(secret, iat="yesterday"))
    assert message == "invalid token (InvalidIssuedAtError)"


@pytest.fixture(scope="module")
def weak_key() -> SigningKey:
    return SigningKey("weak", "RS256", rsa.generate_private_key(65537, key_size=1024))


@pytest.fixture
def weak_jwks(weak_key: SigningKey, rsa_key: SigningKey) -> Iterator[JwksServer]:
    with JwksServer([weak_key.public_jwk(), rsa_key.public_jwk()]) as server:
        yield server


def _jwks_verifier(server: JwksServer) -> JwtVerifier:
    config = AuthSettings(mode="required", jwks_url=server.url, jwt_audience="mlinfer")
    cache = JwksCache(server.url, allowed_algorithms={"RS256"}, clock=FakeClock())
    return JwtVerifier(config, jwks=cache)


# Signing with the weak key warns (pyjwt); verifying it must refuse.
@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
async def test_rsa_keys_under_2048_bits_are_refused(
    weak_jwks: JwksServer, weak_key: SigningKey, rsa_key: SigningKey
) -> None:
    verifier = _jwks_verifier(weak_jwks)
    claims = _claims(aud="mlinfer")
    assert (await verifier.verify(rsa_key.sign(claims))).subject == "alice"
    message = await _refusal(verifier, weak_key.sign(claims))
    assert message == "token signing key is invalid or too weak"


async def test_a_non_string_kid_is_malformed(weak_jwks: JwksServer) -> None:
    verifier = _jwks_verifier(weak_jwks)
    # pyjwt refuses to sign a non-string kid, so the header is assembled by hand.
    header = jwt.utils.base64url_encode(b'{"alg":"RS256","kid":7}').decode()
    body = jwt.utils.base64url_encode(b'{"sub":"x"}').decode()
    assert await _refusal(verifier, f"{header}.{body}.c2ln") == "malformed token"
    assert weak_jwks.fetch_count == 0  # refused before any key was looked up


async def test_a_token_without_kid_needs_a_single_key(weak_jwks: JwksServer) -> None:
    header = jwt.utils.base64url_encode(b'{"alg":"RS256"}').decode()
    body = jwt.utils.base64url_encode(b'{"sub":"x"}').decode()
    message = await _refusal(_jwks_verifier(weak_jwks), f"{header}.{body}.c2ln")
    assert message == "token has no 'kid' header and the key set holds 2 keys"


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
async def test_dates_must_be_json_numbers(secret: str, claim: str) -> None:
    # RFC 7519 2 (NumericDate): pyjwt on its own takes "1700000000" as a date.
    now = int(time.time())
    value = {"exp": now + 600, "nbf": now - 60, "iat": now - 60}[claim]
    verifier = _verifier(secret)
    assert (await verifier.verify(_hs(secret, **{claim: value}))).subject == "alice"
    for wrong in (str(value), True):
        message = await _refusal(verifier, _hs(secret, **{claim: wrong}))
        assert f"'{claim}' claim must be a number" in message or "expired" in message
    message = await _refusal(verifier, _hs(secret, **{claim: str(value)}))
    assert message == f"token '{claim}' claim must be a number of seconds (RFC 7519 NumericDate)"
