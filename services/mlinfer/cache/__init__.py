"""Response cache: whole inference responses keyed by model, version, inputs and options.

In-process LRU by default, Redis when configured; transport-independent (the data plane calls
it). Importing this package does not import redis-py.
"""

from mlinfer.cache.backend import CacheBackend
from mlinfer.cache.codec import CorruptEntryError, decode_outputs, encode_outputs
from mlinfer.cache.factory import create_response_cache
from mlinfer.cache.key import CacheKey, default_key_hash, make_key
from mlinfer.cache.memory import MemoryBackend
from mlinfer.cache.response_cache import ResponseCache
from mlinfer.cache.settings import CacheSettings
from mlinfer.cache.stats import CacheObserver, CacheStats, ModelCacheStats

__all__ = [
    "CacheBackend",
    "CacheKey",
    "CacheObserver",
    "CacheSettings",
    "CacheStats",
    "CorruptEntryError",
    "MemoryBackend",
    "ModelCacheStats",
    "ResponseCache",
    "create_response_cache",
    "decode_outputs",
    "default_key_hash",
    "encode_outputs",
    "make_key",
]
