"""Fixtures for auth tests: a shared HS256 secret, a fake clock and a real JWKS server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mlinfer.auth import new_jwt_secret
from tests.support.clock import FakeClock
from tests.support.jwks_server import JwksServer, SigningKey


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def secret() -> str:
    return new_jwt_secret()


@pytest.fixture(scope="session")
def rsa_key() -> SigningKey:
    return SigningKey.rsa("rsa-1")


@pytest.fixture(scope="session")
def ec_key() -> SigningKey:
    return SigningKey.ec("ec-1")


@pytest.fixture
def jwks_server(rsa_key: SigningKey, ec_key: SigningKey) -> Iterator[JwksServer]:
    with JwksServer([rsa_key.public_jwk(), ec_key.public_jwk()]) as server:
        yield server
