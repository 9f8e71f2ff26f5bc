"""Splits in the serving path: shares, sticky keys, a version named bypasses the split,
the version label in metrics, and gateways that keep their policy while the registry is down."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import tritonclient.grpc as grpcclient

from tests.support.registry import (
    RegistryClient,
    embedded,
    registry_settings,
    serving_repository,
    simple_variant,
)
from tests.support.servers import ServerThread, wait_until

BODY = {
    "inputs": [
        {"name": "INPUT0", "datatype": "INT32", "shape": [1, 16], "data": list(range(16))},
        {"name": "INPUT1", "datatype": "INT32", "shape": [1, 16], "data": [1] * 16},
    ]
}


@pytest.fixture
def split_stack(tmp_path: Path) -> Iterator[tuple[ServerThread, RegistryClient]]:
    repo = serving_repository(tmp_path)
    with embedded(repo, registry_settings(tmp_path / "registry"), grpc=True) as srv:
        registry = RegistryClient(srv.server.registry_server.url)  # type: ignore[union-attr]
        registry.push(simple_variant("Add"))
        registry.push(simple_variant("Sub"))
        assert registry.deploy("simple", "1").status_code == 200
        # Both versions loaded (keep_previous), then split by hand.
        assert registry.deploy("simple", "2", keep_previous=True).status_code == 200
        try:
            yield srv, registry
        finally:
            registry.close()


def _policy_applied(srv: ServerThread, arms: dict[str, int]) -> bool:
    policy = srv.server.traffic.policies.get("simple")  # type: ignore[union-attr]
    return policy is not None and dict(policy.arms) == arms


def test_ninety_ten_split_sticky_keys_and_version_bypass(
    split_stack: tuple[ServerThread, RegistryClient],
) -> None:
    srv, registry = split_stack
    assert registry.split("simple", {"1": 90, "2": 10}).status_code == 200
    wait_until(lambda: _policy_applied(srv, {"1": 90, "2": 10}), "gateway took the split")
    seen: Counter[str] = Counter()
    with httpx.Client(base_url=f"http://{srv.http}") as http:
        for _ in range(2000):
            response = http.post("/v2/models/simple/infer", json=BODY)
            assert response.status_code == 200, response.text
            seen[response.json()["model_version"]] += 1
        assert abs(seen["2"] / 2000 - 0.10) <= 0.03, seen
        # A request naming a version is never split.
        named = {http.post("/v2/models/simple/versions/2/infer", json=BODY).json()["model_version"]
                 for _ in range(50)}  # fmt: skip
        assert named == {"2"}
        metrics = http.get("/metrics").text
    for version in ("1", "2"):
        assert (
            f'mlinfer_model_request_duration_seconds_count{{model="simple",outcome="success",'
            f'version="{version}"}}' in metrics
        )

    assert (
        registry.split("simple", {"1": 50, "2": 50}, sticky="header:X-Session-ID").status_code
        == 200
    )
    wait_until(lambda: _policy_applied(srv, {"1": 50, "2": 50}), "gateway took the sticky split")
    arms: dict[str, set[str]] = {}
    with httpx.Client(base_url=f"http://{srv.http}") as http:
        for _round in range(4):
            for key in range(60):
                response = http.post(
                    "/v2/models/simple/infer", json=BODY, headers={"X-Session-ID": f"k{key}"}
                )
                arms.setdefault(f"k{key}", set()).add(response.json()["model_version"])
    assert all(len(v) == 1 for v in arms.values())  # a key never changed arm
    assert {next(iter(v)) for v in arms.values()} == {"1", "2"}
    # gRPC: the same key (metadata) gets the same arm as over REST.
    with grpcclient.InferenceServerClient(srv.grpc) as client:
        inputs = [grpcclient.InferInput("INPUT0", [1, 16], "INT32"),
                  grpcclient.InferInput("INPUT1", [1, 16], "INT32")]  # fmt: skip
        inputs[0].set_data_from_numpy(np.arange(16, dtype=np.int32).reshape(1, 16))
        inputs[1].set_data_from_numpy(np.ones((1, 16), dtype=np.int32))
        for key in ("k1", "k2", "k3", "k4"):
            result = client.infer("simple", inputs, headers={"x-session-id": key})
            assert {result.get_response().model_version} == arms[key]


def test_gateway_keeps_last_policy_when_registry_is_gone(tmp_path: Path) -> None:
    """A gateway subscribed to a registry that dies keeps routing by its persisted policy."""
    from mlinfer.registry.settings import RegistrySettings

    repo = serving_repository(tmp_path)
    settings = registry_settings(tmp_path / "registry")
    with embedded(repo, settings) as hosting:
        registry = RegistryClient(hosting.server.registry_server.url)  # type: ignore[union-attr]
        try:
            registry.push(simple_variant("Add"))
            assert registry.deploy("simple", "1").status_code == 200
        finally:
            registry.close()
        registry_url = hosting.server.registry_server.url  # type: ignore[union-attr]
        cache = tmp_path / "gateway-policies.json"
        gateway_settings = RegistrySettings(
            url=registry_url, policy_cache=cache, poll_wait_seconds=2, retry_seconds=0.1
        )
        from tests.support.servers import settings_for

        gateway = ServerThread(settings_for(repo), registry_settings=gateway_settings).start()
        try:
            wait_until(lambda: _policy_applied(gateway, {"1": 100}), "gateway subscribed")
            # The policy is applied before it is written down: wait for the file too.
            wait_until(cache.exists, "gateway persisted the policy")
        finally:
            gateway.stop()
    # The registry is gone now; a new gateway starts from the persisted policy.
    restarted = ServerThread(settings_for(repo), registry_settings=gateway_settings).start()
    try:
        assert _policy_applied(restarted, {"1": 100})
        with httpx.Client(base_url=f"http://{restarted.http}") as http:
            response = http.post("/v2/models/simple/infer", json=BODY)
        assert response.status_code == 200 and response.json()["model_version"] == "1"
    finally:
        restarted.stop()
