"""Token bucket rate limits per client and per model, in-process or shared through Redis.

Transports call :meth:`RateLimiter.enforce` with the caller's identity subject and the
model name; a refusal is :class:`RateLimitedError` (429 / RESOURCE_EXHAUSTED) carrying
``retry_after_s`` for ``Retry-After``.
"""

from mlinfer.ratelimit.bucket import BucketRef, Decision, Rate
from mlinfer.ratelimit.errors import RateLimitedError
from mlinfer.ratelimit.limiter import BucketStore, InProcessStore, RateLimiter, limited_error
from mlinfer.ratelimit.local import LocalRateLimiter
from mlinfer.ratelimit.redis_backend import RedisRateLimiter, redis_client
from mlinfer.ratelimit.settings import RateLimitSettings

__all__ = [
    "BucketRef",
    "BucketStore",
    "Decision",
    "InProcessStore",
    "LocalRateLimiter",
    "Rate",
    "RateLimitSettings",
    "RateLimitedError",
    "RateLimiter",
    "RedisRateLimiter",
    "limited_error",
    "redis_client",
]
