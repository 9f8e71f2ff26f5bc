"""10 consecutive deploys under concurrency-32 load (16 REST + 16 gRPC clients): the test
counts every request, and none may fail."""

from __future__ import annotations

from pathlib import Path

from tests.support.registry import (
    RegistryClient,
    SwapLoad,
    embedded,
    registry_settings,
    serving_repository,
    simple_variant,
)
from tests.support.servers import wait_until


def test_ten_deploys_under_load_fail_no_request(tmp_path: Path) -> None:
    repo = serving_repository(tmp_path)
    with embedded(repo, registry_settings(tmp_path / "registry"), grpc=True) as srv:
        registry = RegistryClient(srv.server.registry_server.url)  # type: ignore[union-attr]
        try:
            assert registry.push(simple_variant("Add")).status_code == 201
            assert registry.push(simple_variant("Sub")).status_code == 201
            with SwapLoad(srv.http, srv.grpc) as load:
                wait_until(lambda: load.total() > 100, "load running")
                for i in range(10):
                    before = load.total()
                    deployed = registry.deploy("simple", "2" if i % 2 == 0 else "1")
                    assert deployed.status_code == 200, deployed.text
                    wait_until(lambda b=before: load.total() > b + 50, "requests during deploy")
            assert load.failures == [], load.failures[:5]
            assert load.total() > 1000
            for key in ("http/1", "http/2", "grpc/1", "grpc/2"):
                assert load.ok[key] > 0, load.ok
            states = [d["state"] for d in registry.status("simple")["deployments"]]
            assert states == ["succeeded"] * 5
        finally:
            registry.close()
