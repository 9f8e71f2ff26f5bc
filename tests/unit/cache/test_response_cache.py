from __future__ import annotations

import logging

import numpy as np
import pytest
from tritonclient.grpc import model_config_pb2 as mc

from mlinfer.cache import (
    CacheObserver,
    CacheSettings,
    MemoryBackend,
    ResponseCache,
    create_response_cache,
)
from mlinfer.cache.backend import FailureNotifier
from mlinfer.core.errors import ModelLoadError
from mlinfer.core.model_config import parse_config
from mlinfer.core.model_spec import response_cache_enabled
from mlinfer.core.proto_json import message_to_dict
from mlinfer.core.types import InferRequest, InferResponse, RequestedOutput, Tensor


def request(request_id: str = "r1", value: float = 1.0) -> InferRequest:
    data = np.full((1, 4), value, dtype=np.float32)
    return InferRequest("m", [Tensor("x", "FP32", (1, 4), data)], id=request_id)


def response(request_id: str = "r1") -> InferResponse:
    outputs = [
        Tensor("y", "FP16", (1, 2), np.array([[0.5, -2.0]], dtype=np.float16)),
        Tensor("labels", "BYTES", (1, 1), np.array([[b"cat"]], dtype=np.object_)),
    ]
    return InferResponse("m", "3", outputs, id=request_id, parameters={"p": 1})


class Recorder(CacheObserver):
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    def on_hit(self, model: str, version: str, lookup_ns: int) -> None:
        assert lookup_ns >= 0
        self.events.append(("hit", model, version))

    def on_miss(self, model: str, version: str, lookup_ns: int) -> None:
        self.events.append(("miss", model, version))

    def on_insert(self, model: str, version: str, insert_ns: int) -> None:
        self.events.append(("insert", model, version))

    def on_backend_failure(self, backend: str, error: BaseException) -> None:
        self.events.append(("failure", backend, type(error).__name__))


def memory_cache(
    observer: CacheObserver | None = None, max_entry_bytes: int = 1 << 20
) -> ResponseCache:
    backend = MemoryBackend(1 << 20, 100)
    return ResponseCache(backend, observer=observer, max_entry_bytes=max_entry_bytes)


async def test_miss_store_hit_with_the_new_request_id() -> None:
    recorder = Recorder()
    cache = memory_cache(recorder)
    assert await cache.lookup(request("r1"), "3") is None
    await cache.store(request("r1"), "3", response("r1"))
    hit = await cache.lookup(request("r2"), "3")
    assert hit is not None
    assert (hit.id, hit.model_name, hit.model_version) == ("r2", "m", "3")
    assert hit.parameters == {}  # fresh; the caller may mark it as a cache hit
    assert [t.name for t in hit.outputs] == ["y", "labels"]
    np.testing.assert_array_equal(hit.outputs[0].data, response().outputs[0].data)
    assert hit.outputs[0].data.dtype == np.float16
    assert list(hit.outputs[1].data.reshape(-1)) == [b"cat"]
    assert recorder.events == [("miss", "m", "3"), ("insert", "m", "3"), ("hit", "m", "3")]
    counters = cache.stats.model("m", "3")
    assert (counters.hits, counters.misses, counters.inserts) == (1, 1, 1)
    triton = {
        "cache_hit": message_to_dict(counters.hit_duration()),
        "cache_miss": message_to_dict(counters.miss_duration()),
    }
    assert triton["cache_hit"]["count"] == 1
    assert triton["cache_miss"] == {"count": 1, "ns": counters.miss_ns + counters.insert_ns}


async def test_different_inputs_and_versions_do_not_hit() -> None:
    cache = memory_cache()
    await cache.store(request(value=1.0), "3", response())
    assert await cache.lookup(request(value=2.0), "3") is None
    assert await cache.lookup(request(value=1.0), "4") is None


async def test_precomputed_key_is_used_for_both_calls() -> None:
    cache = memory_cache()
    req = request()
    key = cache.key(req, "3")
    await cache.store(req, "3", response(), key=key)
    assert await cache.lookup(req, "3", key=key) is not None


async def test_oversized_response_is_not_stored() -> None:
    cache = memory_cache(max_entry_bytes=64)
    big = InferResponse("m", "3", [Tensor("y", "FP32", (1, 100), np.zeros((1, 100), np.float32))])
    await cache.store(request(), "3", big)
    assert cache.stats.model("m", "3").too_large == 1
    assert await cache.lookup(request(), "3") is None


async def test_corrupted_entry_is_a_miss_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    backend = MemoryBackend(1 << 20, 100)
    cache = ResponseCache(backend)
    req = request()
    await backend.set(str(cache.key(req, "3")), b"MLRC\x01garbage")
    with caplog.at_level(logging.DEBUG, logger="mlinfer.cache"):
        assert await cache.lookup(req, "3") is None
        assert await cache.lookup(req, "3") is None
    counters = cache.stats.model("m", "3")
    assert (counters.corrupt, counters.misses) == (2, 2)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "unreadable" in warnings[0].getMessage()
    # The next store overwrites the bad entry.
    await cache.store(req, "3", response())
    assert await cache.lookup(req, "3") is not None


class BrokenBackend(FailureNotifier):
    """A backend with a bug: everything raises."""

    name = "broken"
    failures = 0

    async def get(self, key: str) -> bytes | None:
        raise RuntimeError("bug in get")

    async def set(self, key: str, value: bytes) -> bool:
        raise RuntimeError("bug in set")

    async def close(self) -> None:
        pass


async def test_a_broken_backend_never_fails_the_request() -> None:
    cache = ResponseCache(BrokenBackend())
    assert await cache.lookup(request(), "3") is None
    await cache.store(request(), "3", response())
    assert cache.stats.backend_failures == 2


class RaisingObserver(CacheObserver):
    def on_miss(self, model: str, version: str, lookup_ns: int) -> None:
        raise RuntimeError("metrics bug")


async def test_a_raising_observer_is_contained() -> None:
    cache = memory_cache(RaisingObserver())
    assert await cache.lookup(request(), "3") is None


async def test_get_or_infer_runs_the_model_once() -> None:
    cache = memory_cache()
    calls = 0

    async def infer() -> InferResponse:
        nonlocal calls
        calls += 1
        return response("r1")

    first, hit1 = await cache.get_or_infer(request("r1"), "3", infer)
    second, hit2 = await cache.get_or_infer(request("r2"), "3", infer)
    assert (calls, hit1, hit2) == (1, False, True)
    assert (first.id, second.id) == ("r1", "r2")


async def test_requested_outputs_and_classification_are_part_of_the_key() -> None:
    cache = memory_cache()
    raw = request()
    classified = request()
    classified.outputs = [RequestedOutput("y", class_count=1)]
    await cache.store(raw, "3", response())
    assert await cache.lookup(classified, "3") is None


def test_factory_builds_each_backend_lazily() -> None:
    assert create_response_cache(CacheSettings(backend="off")) is None
    memory = create_response_cache(CacheSettings(max_bytes=1000, max_entries=5, ttl_seconds=2))
    assert memory is not None and isinstance(memory.backend, MemoryBackend)
    assert (memory.backend.max_bytes, memory.backend.max_entries) == (1000, 5)
    # No redis-server needed: the client connects on first use.
    redis = create_response_cache(CacheSettings(backend="redis", redis_url="redis://127.0.0.1:1"))
    assert redis is not None and redis.backend.name == "redis"


CONFIG = 'name: "m"\ninput [ { name: "x" data_type: TYPE_FP32 dims: [ 4 ] } ]\n'


def _config(extra: str) -> mc.ModelConfig:
    return parse_config(CONFIG + extra)


@pytest.mark.parametrize(
    "extra, enabled",
    [
        ("", False),
        ("response_cache { enable: true }", True),
        ("response_cache { enable: false }", False),
        ('parameters { key: "response_cache" value { string_value: "true" } }', True),
        ('parameters { key: "response_cache" value { string_value: " On " } }', True),
        ('parameters { key: "response_cache" value { string_value: "false" } }', False),
        (
            "response_cache { enable: false }\n"
            'parameters { key: "response_cache" value { string_value: "true" } }',
            False,
        ),
    ],
)
def test_response_cache_enabled(extra: str, enabled: bool) -> None:
    assert response_cache_enabled(_config(extra)) is enabled


def test_cache_enabled_rejects_a_malformed_parameter() -> None:
    config = _config('parameters { key: "response_cache" value { string_value: "maybe" } }')
    with pytest.raises(ModelLoadError, match="parameter 'response_cache' must be"):
        response_cache_enabled(config)
