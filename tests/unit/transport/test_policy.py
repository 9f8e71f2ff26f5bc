"""Open health/metrics and credentials checks, decided once for every transport."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from mlinfer.auth import (
    ApiKeySpec,
    Authenticator,
    AuthSettings,
    PermissionDeniedError,
    UnauthenticatedError,
    hash_api_key,
    new_api_key,
)
from mlinfer.auth.guard import AccessGuard
from mlinfer.auth.identity import Scope
from mlinfer.observability.metrics import GatewayMetrics
from mlinfer.ratelimit.limiter import RateLimiter
from mlinfer.ratelimit.settings import RateLimitSettings
from mlinfer.settings import settings_from_names
from mlinfer.transport.policy import Caller, RequestPolicy

KEY = new_api_key()
CAMERA = Caller(api_key=KEY, peer="10.0.0.7")


def _guard() -> AccessGuard:
    spec = ApiKeySpec(name="camera-7", hash=hash_api_key(KEY), models=["detector"])
    authenticator = Authenticator(AuthSettings(mode="required", api_keys=(spec,)))
    limiter = RateLimiter.from_settings(RateLimitSettings())
    return AccessGuard(authenticator, limiter, GatewayMetrics(CollectorRegistry()))


@pytest.mark.parametrize("open_health", [True, False])
@pytest.mark.parametrize("open_metrics", [True, False])
async def test_open_endpoints_need_no_credentials(open_health: bool, open_metrics: bool) -> None:
    policy = RequestPolicy(_guard(), open_health=open_health, open_metrics=open_metrics)
    for opened, check in (
        (open_health, policy.authorize_health),
        (open_metrics, policy.authorize_metrics),
    ):
        if opened:
            assert await check(Caller()) is None
        else:
            with pytest.raises(UnauthenticatedError):
                await check(Caller())
            identity = await check(CAMERA)
            assert identity is not None and identity.subject == "camera-7"


async def test_authorize_checks_scope_and_model() -> None:
    policy = RequestPolicy(_guard(), open_health=True, open_metrics=True)
    identity = await policy.authorize(CAMERA, Scope.INFER, "detector")
    assert identity.subject == "camera-7"
    with pytest.raises(PermissionDeniedError):
        await policy.authorize(CAMERA, Scope.INFER, "other-model")
    with pytest.raises(UnauthenticatedError):
        await policy.authorize(Caller(api_key="not-a-key"), Scope.INFER, "detector")


async def test_from_settings_reads_the_open_flags() -> None:
    policy = RequestPolicy.from_settings(
        _guard(),
        settings_from_names(
            {"auth_mode": "disabled", "auth_open_health": False, "auth_open_metrics": True}
        ),
    )
    assert await policy.authorize_metrics(Caller()) is None
    with pytest.raises(UnauthenticatedError):
        await policy.authorize_health(Caller())


def test_callers_carry_every_credential_value_received() -> None:
    metadata = [("authorization", "Bearer a"), ("x-trace", "t"), ("authorization", b"Bearer b")]
    assert Caller.from_metadata(metadata, "ipv4:1.2.3.4:5") == Caller(
        ("Bearer a", "Bearer b"), None, "ipv4:1.2.3.4:5"
    )
    assert Caller.from_metadata([("x-api-key", KEY)], None) == Caller(None, KEY, None)


async def test_repeated_credentials_are_401_on_every_kind_of_call() -> None:
    policy = RequestPolicy(_guard(), open_health=False, open_metrics=False)
    twice = Caller.from_values([], [KEY, KEY], "10.0.0.7")
    for call in (
        policy.authorize(twice, Scope.INFER, "detector"),
        policy.authorize_health(twice),
        policy.authorize_metrics(twice),
    ):
        with pytest.raises(UnauthenticatedError, match="2 'X-API-Key' values"):
            await call
