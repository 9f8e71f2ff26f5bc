"""RS256/ES256 tokens verified with keys from a real local JWKS endpoint."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import threading
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from mlinfer.auth import Authenticator, AuthSettings, JwksCache, UnauthenticatedError
from mlinfer.auth.jwks import cache_ttl
from mlinfer.core.errors import StatusCode, UnavailableError
from tests.support.clock import FakeClock
from tests.support.jwks_server import JwksServer, SigningKey

AUDIENCE = "mlinfer"
MIN_REFETCH = 30.0


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"sub": "svc", "scope": "infer", "aud": AUDIENCE, "iat": now, "exp": now + 60}
    claims.update(overrides)
    return claims


def _authenticator(
    server: JwksServer, clock: FakeClock, *, secret: str | None = None
) -> Authenticator:
    config = AuthSettings(
        mode="required", jwks_url=server.url, jwt_audience=AUDIENCE, jwt_secret=secret
    )
    cache = JwksCache(
        server.url,
        allowed_algorithms={"RS256", "ES256"},
        min_refetch_interval_s=MIN_REFETCH,
        default_ttl_s=300.0,
        clock=clock,
    )
    return Authenticator(config, jwks=cache)


async def _bearer(auth: Authenticator, token: str) -> str:
    return (await auth.authenticate(f"Bearer {token}", None)).subject


async def _reject(auth: Authenticator, token: str) -> str:
    with pytest.raises(UnauthenticatedError) as info:
        await auth.authenticate(f"Bearer {token}", None)
    return info.value.message


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


async def test_rs256_and_es256_tokens_verify_with_one_fetch(
    jwks_server: JwksServer, clock: FakeClock, rsa_key: SigningKey, ec_key: SigningKey
) -> None:
    auth = _authenticator(jwks_server, clock)
    assert await _bearer(auth, rsa_key.sign(_claims(sub="rsa-client"))) == "rsa-client"
    assert await _bearer(auth, ec_key.sign(_claims(sub="ec-client"))) == "ec-client"
    assert jwks_server.fetch_count == 1


async def test_new_kid_triggers_refetch_and_old_kid_goes_away(
    jwks_server: JwksServer, clock: FakeClock, rsa_key: SigningKey
) -> None:
    auth = _authenticator(jwks_server, clock)
    await _bearer(auth, rsa_key.sign(_claims()))
    rotated = SigningKey.rsa("rsa-2")
    jwks_server.set_keys([rotated.public_jwk()])
    clock.advance(MIN_REFETCH + 1)
    assert await _bearer(auth, rotated.sign(_claims(sub="after-rotation"))) == "after-rotation"
    assert jwks_server.fetch_count == 2
    # the retired key is no longer published: once refetched, its tokens are unknown
    clock.advance(MIN_REFETCH + 1)
    assert await _reject(auth, rsa_key.sign(_claims())) == "unknown key id 'rsa-1'"
    assert jwks_server.fetch_count == 3


async def test_unknown_kid_after_refetch_is_401_and_refetch_is_rate_limited(
    jwks_server: JwksServer, clock: FakeClock, rsa_key: SigningKey
) -> None:
    auth = _authenticator(jwks_server, clock)
    await _bearer(auth, rsa_key.sign(_claims()))
    ghost = SigningKey.rsa("ghost")
    clock.advance(MIN_REFETCH + 1)
    with pytest.raises(UnauthenticatedError) as info:
        await auth.authenticate(f"Bearer {ghost.sign(_claims())}", None)
    assert info.value.message == "unknown key id 'ghost'"
    assert info.value.status is StatusCode.UNAUTHENTICATED
    assert 'error="invalid_token"' in info.value.www_authenticate
    assert jwks_server.fetch_count == 2
    for _ in range(5):  # a flood of made-up kids does not reach the IdP
        assert await _reject(auth, ghost.sign(_claims())) == "unknown key id 'ghost'"
    assert jwks_server.fetch_count == 2
    # a key that appears within the interval is only seen after it
    jwks_server.add_key(ghost.public_jwk())
    assert await _reject(auth, ghost.sign(_claims())) == "unknown key id 'ghost'"
    clock.advance(MIN_REFETCH + 1)
    assert await _bearer(auth, ghost.sign(_claims(sub="ghost-ok"))) == "ghost-ok"
    assert jwks_server.fetch_count == 3


async def test_concurrent_requests_share_one_fetch(
    jwks_server: JwksServer, clock: FakeClock, rsa_key: SigningKey
) -> None:
    auth = _authenticator(jwks_server, clock)
    await _bearer(auth, rsa_key.sign(_claims()))
    rotated = SigningKey.ec("ec-2")
    jwks_server.add_key(rotated.public_jwk())
    clock.advance(MIN_REFETCH + 1)
    token = rotated.sign(_claims(sub="many"))
    subjects = await asyncio.gather(*(_bearer(auth, token) for _ in range(20)))
    assert subjects == ["many"] * 20
    assert jwks_server.fetch_count == 2


async def test_cache_control_max_age_is_respected(
    jwks_server: JwksServer, clock: FakeClock, rsa_key: SigningKey
) -> None:
    jwks_server.cache_control = "public, max-age=600"
    auth = _authenticator(jwks_server, clock)
    token = rsa_key.sign(_claims())
    await _bearer(auth, token)
    clock.advance(599)
    await _bearer(auth, token)
    assert jwks_server.fetch_count == 1
    clock.advance(2)
    await _bearer(auth, token)
    assert jwks_server.fetch_count == 2


def test_cache_ttl_parsing() -> None:
    assert cache_ttl(None, 300) == 300
    assert cache_ttl("public, max-age=86400, must-revalidate", 300) == 86400
    assert cache_ttl('max-age="60"', 300) == 60
    assert cache_ttl("no-store", 300) == 0
    assert cache_ttl("private, no-cache", 300) == 0
    assert cache_ttl("s-maxage=5", 300) == 300


async def test_unreachable_jwks_is_503_then_recovers(
    jwks_server: JwksServer, clock: FakeClock, rsa_key: SigningKey
) -> None:
    jwks_server.status = 500
    auth = _authenticator(jwks_server, clock)
    token = rsa_key.sign(_claims())
    with pytest.raises(UnavailableError) as info:
        await auth.authenticate(f"Bearer {token}", None)
    assert info.value.status is StatusCode.UNAVAILABLE
    assert info.value.retry_after_s == MIN_REFETCH
    assert jwks_server.fetch_count == 1
    jwks_server.status = 200
    clock.advance(MIN_REFETCH + 1)
    assert await _bearer(auth, token) == "svc"


async def test_failed_refresh_keeps_the_keys_it_had(
    jwks_server: JwksServer, clock: FakeClock, rsa_key: SigningKey
) -> None:
    auth = _authenticator(jwks_server, clock)
    token = rsa_key.sign(_claims())
    await _bearer(auth, token)
    jwks_server.status = 500
    clock.advance(301)  # cache expired, refresh fails
    assert await _bearer(auth, token) == "svc"
    assert jwks_server.fetch_count == 2


async def test_prefetch_at_start(jwks_server: JwksServer, clock: FakeClock) -> None:
    auth = _authenticator(jwks_server, clock)
    await auth.start()
    assert jwks_server.fetch_count == 1


async def test_algorithm_confusion_hs256_signed_with_rsa_public_key(
    jwks_server: JwksServer, clock: FakeClock, rsa_key: SigningKey, secret: str
) -> None:
    """The classic attack: take the server's RSA public key, use it as an HMAC secret."""
    public_pem = rsa_key.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": rsa_key.kid}).encode())
    payload = _b64(json.dumps(_claims(sub="mallory", scope="models:admin")).encode())
    signing_input = f"{header}.{payload}".encode()
    for secret_material in (public_pem, json.dumps(rsa_key.public_jwk()).encode()):
        signature = _b64(hmac.new(secret_material, signing_input, hashlib.sha256).digest())
        forged = f"{header}.{payload}.{signature}"
        # with a shared secret configured, HS256 is checked against that secret only
        with_secret = _authenticator(jwks_server, clock, secret=secret)
        assert await _reject(with_secret, forged) == "bad token signature"
        # without one, HS256 is not accepted at all (never checked against JWKS keys)
        without_secret = _authenticator(jwks_server, clock)
        assert await _reject(without_secret, forged) == (
            "'HS256' tokens are not accepted (no shared secret)"
        )


async def test_token_algorithm_must_match_its_jwks_key(
    jwks_server: JwksServer, clock: FakeClock, rsa_key: SigningKey, ec_key: SigningKey
) -> None:
    auth = _authenticator(jwks_server, clock)
    # an RS256 token claiming the EC key's kid
    token = rsa_key.sign(_claims(), headers={"kid": ec_key.kid})
    assert await _reject(auth, token) == "token algorithm 'RS256' does not match its key"


async def test_symmetric_keys_in_a_jwks_are_ignored(clock: FakeClock) -> None:
    oct_key = {"kty": "oct", "kid": "sym", "alg": "HS256", "k": _b64(b"k" * 32)}
    with JwksServer([oct_key]) as server:
        cache = JwksCache(server.url, allowed_algorithms={"RS256", "HS256"}, clock=clock)
        with pytest.raises(UnauthenticatedError, match="unknown key id 'sym'"):
            await cache.get_key("sym")


async def test_keys_of_disallowed_algorithms_are_ignored(
    jwks_server: JwksServer, clock: FakeClock, ec_key: SigningKey
) -> None:
    cache = JwksCache(jwks_server.url, allowed_algorithms={"RS256"}, clock=clock)
    with pytest.raises(UnauthenticatedError, match="unknown key id 'ec-1'"):
        await cache.get_key(ec_key.kid)


async def test_token_without_kid_uses_the_only_key(clock: FakeClock) -> None:
    only = SigningKey.ec("only")
    jwk = {k: v for k, v in only.public_jwk().items() if k != "kid"}
    with JwksServer([jwk]) as server:
        auth = _authenticator(server, clock)
        token = jwt.encode(_claims(sub="no-kid"), only.private_key, algorithm="ES256")
        assert await _bearer(auth, token) == "no-kid"


async def test_token_without_kid_is_refused_when_several_keys(
    jwks_server: JwksServer, clock: FakeClock, ec_key: SigningKey
) -> None:
    auth = _authenticator(jwks_server, clock)
    token = jwt.encode(_claims(), ec_key.private_key, algorithm="ES256")
    assert await _reject(auth, token) == ("token has no 'kid' header and the key set holds 2 keys")


def test_jwks_needs_an_audience() -> None:
    with pytest.raises(ValueError, match="needs an audience"):
        AuthSettings(mode="required", jwks_url="http://127.0.0.1:1/jwks.json")


def test_single_fetch_across_threads_and_event_loops(
    jwks_server: JwksServer, rsa_key: SigningKey
) -> None:
    """REST and gRPC may run on different threads/loops; they still share one fetch."""
    cache = JwksCache(jwks_server.url, allowed_algorithms={"RS256", "ES256"})
    barrier = threading.Barrier(4)
    found: list[str | None] = []

    def worker() -> None:
        barrier.wait()
        found.append(asyncio.run(cache.get_key(rsa_key.kid)).key_id)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert found == [rsa_key.kid] * 4
    assert jwks_server.fetch_count == 1


async def test_cancelled_waiter_does_not_cancel_the_shared_fetch(
    jwks_server: JwksServer, clock: FakeClock, rsa_key: SigningKey
) -> None:
    cache = JwksCache(jwks_server.url, allowed_algorithms={"RS256"}, clock=clock)
    first = asyncio.create_task(cache.get_key(rsa_key.kid))
    second = asyncio.create_task(cache.get_key(rsa_key.kid))
    await asyncio.sleep(0)  # both are waiting on the one fetch
    first.cancel()
    assert (await second).key_id == rsa_key.kid
    assert first.cancelled()
    assert jwks_server.fetch_count == 1
