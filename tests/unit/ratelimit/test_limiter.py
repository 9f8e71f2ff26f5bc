"""Which buckets a request takes from, and the 429 it gets."""

from __future__ import annotations

import pytest

from mlinfer.core.errors import StatusCode
from mlinfer.ratelimit import (
    LocalRateLimiter,
    Rate,
    RateLimitedError,
    RateLimiter,
    RateLimitSettings,
    RedisRateLimiter,
)
from mlinfer.ratelimit.limiter import InProcessStore
from tests.support.clock import FakeClock


def _limiter(clock: FakeClock, **fields: object) -> RateLimiter:
    for name in ("identity", "model"):  # a Rate given as its two settings
        rate = fields.pop(name, None)
        if isinstance(rate, Rate):
            fields[f"{name}_rps"], fields[f"{name}_burst"] = rate.requests_per_second, rate.burst
    config = RateLimitSettings(**fields)  # type: ignore[arg-type]
    return RateLimiter(config, store=InProcessStore(LocalRateLimiter(clock=clock)))


def _rate(rps: float, burst: float | None = None) -> Rate:
    return Rate(requests_per_second=rps, burst=burst)


async def _admitted(limiter: RateLimiter, identity: str, model: str | None, n: int) -> int:
    return sum([(await limiter.check(identity, model)).allowed for _ in range(n)])


async def test_disabled_limiter_admits_everything(clock: FakeClock) -> None:
    limiter = _limiter(clock)
    assert not limiter.enabled
    assert await _admitted(limiter, "alice", "digits", 1000) == 1000


async def test_clients_have_separate_budgets(clock: FakeClock) -> None:
    limiter = _limiter(clock, identity=_rate(1, 2))
    assert await _admitted(limiter, "alice", "digits", 5) == 2
    assert await _admitted(limiter, "bob", "digits", 5) == 2
    assert await _admitted(limiter, "alice", None, 1) == 0


async def test_model_budget_is_shared_by_all_clients(clock: FakeClock) -> None:
    limiter = _limiter(clock, model=_rate(1, 3))
    assert await _admitted(limiter, "alice", "digits", 2) == 2
    assert await _admitted(limiter, "bob", "digits", 5) == 1
    assert await _admitted(limiter, "bob", "resnet", 5) == 3
    assert await _admitted(limiter, "bob", None, 5) == 5  # not about a model: no model limit


async def test_enforce_raises_429_with_retry_after(clock: FakeClock) -> None:
    limiter = _limiter(clock, identity=_rate(4, 1))
    await limiter.enforce("alice", "digits")
    with pytest.raises(RateLimitedError) as info:
        await limiter.enforce("alice", "digits")
    error = info.value
    assert error.status is StatusCode.RESOURCE_EXHAUSTED
    assert error.retry_after_s == 0.25
    assert error.message == "rate limit exceeded for client 'alice'; retry in 0.25 s"
    clock.advance(0.25)
    await limiter.enforce("alice", "digits")


async def test_model_refusal_message_names_the_model(clock: FakeClock) -> None:
    limiter = _limiter(clock, model=_rate(1, 1))
    await limiter.enforce("alice", "digits")
    with pytest.raises(RateLimitedError, match="for model 'digits'; retry in 1 s"):
        await limiter.enforce("bob", "digits")


async def test_overrides_replace_the_client_limit(clock: FakeClock) -> None:
    limiter = _limiter(
        clock,
        identity=_rate(1, 1),
        model=_rate(100, 100),
        overrides={"cam-7/image_*": _rate(1, 5), "cam-7/image_hd": _rate(1, 2)},
    )
    # exact name wins over the glob
    assert await _admitted(limiter, "cam-7", "image_hd", 10) == 2
    # the glob's one bucket is shared by every model it matches
    assert await _admitted(limiter, "cam-7", "image_a", 3) == 3
    assert await _admitted(limiter, "cam-7", "image_b", 3) == 2
    # other models: the ordinary client limit
    assert await _admitted(limiter, "cam-7", "digits", 3) == 1
    # other clients are not affected by cam-7's overrides
    assert await _admitted(limiter, "alice", "image_a", 3) == 1


async def test_model_limit_still_applies_with_an_override(clock: FakeClock) -> None:
    limiter = _limiter(clock, model=_rate(1, 2), overrides={"vip/*": _rate(100, 100)})
    assert await _admitted(limiter, "vip", "digits", 5) == 2


async def test_override_keys_are_checked() -> None:
    with pytest.raises(ValueError, match="'<client>/<model glob>'"):
        RateLimitSettings(overrides={"no-model-part": _rate(1)})
    with pytest.raises(ValueError, match="must look like"):
        RateLimitSettings(overrides={"alice/": _rate(1)})
    config = RateLimitSettings(overrides={"https://idp/alice/digits": _rate(1)})
    assert RateLimiter(config).buckets_for("https://idp/alice", "digits")[0].label == (
        "client+model"
    )


async def test_from_settings_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLINFER_RATELIMIT_IDENTITY_RPS", "10")
    monkeypatch.setenv("MLINFER_RATELIMIT_MODEL_RPS", "0")  # 0 = unlimited
    monkeypatch.setenv(
        "MLINFER_RATELIMIT_OVERRIDES", '{"cam-7/*": {"requests_per_second": 1, "burst": 2}}'
    )
    limiter = RateLimiter.from_settings(RateLimitSettings())
    assert limiter.config.identity == _rate(10)
    assert limiter.config.model is None
    assert await _admitted(limiter, "cam-7", "digits", 5) == 2
    assert await _admitted(limiter, "alice", "digits", 5) == 5
    await limiter.aclose()


async def test_from_settings_with_redis_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLINFER_RATELIMIT_IDENTITY_RPS", "10")
    monkeypatch.setenv("MLINFER_RATELIMIT_REDIS_URL", "redis://127.0.0.1:1/0")
    limiter = RateLimiter.from_settings(RateLimitSettings())
    assert isinstance(limiter.store, RedisRateLimiter)
    assert (await limiter.check("alice", "digits")).allowed  # nothing there: in-process
    assert limiter.store.outages == 1
    await limiter.aclose()
