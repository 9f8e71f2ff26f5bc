"""What is open without credentials, and closing each of it (README's security table).

Open by default: health (REST and gRPC, grpc.health.v1 included), /metrics, the API document
with /docs and /redoc, gRPC reflection. While auth is on, open /health no longer lists the
models; closed, it lists those the caller may see.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from mlinfer.auth import issue_token
from tests.support.servers import ServerThread, settings_for

SECRET = "h" * 48
Metadata = tuple[tuple[str, str], ...]


def _token(models: list[str]) -> str:
    return issue_token(SECRET, "ops", ["models:read"], models=models, ttl_s=600)


def _secured(repository: Path, **closed: bool) -> ServerThread:
    settings = settings_for(
        repository,
        auth_mode="required",
        auth_jwt_secret=SECRET,
        startup_models=["simple", "digits"],
        **{f"auth_{name}": value for name, value in closed.items()},
    )
    return ServerThread(settings, rest=True, grpc=True)


@pytest.fixture(scope="module")
def defaults(sample_repository: Path) -> Iterator[ServerThread]:
    with _secured(sample_repository) as srv:
        yield srv


@pytest.fixture(scope="module")
def closed(sample_repository: Path) -> Iterator[ServerThread]:
    with _secured(
        sample_repository, open_health=False, open_docs=False, open_reflection=False
    ) as srv:
        yield srv


def _health_check(srv: ServerThread, metadata: Metadata = ()) -> grpc.StatusCode | int:
    with grpc.insecure_channel(srv.grpc) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), metadata=metadata, timeout=30
            )
        except grpc.RpcError as exc:
            return exc.code()  # type: ignore[no-any-return]
    return reply.status  # type: ignore[no-any-return]


def _health_watch(srv: ServerThread, metadata: Metadata = ()) -> grpc.StatusCode | int:
    with grpc.insecure_channel(srv.grpc) as channel:
        stream = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(service=""), metadata=metadata, timeout=30
        )
        try:
            first = next(iter(stream))
        except grpc.RpcError as exc:
            return exc.code()  # type: ignore[no-any-return]
        stream.cancel()
    return first.status  # type: ignore[no-any-return]


def _reflected(srv: ServerThread, metadata: Metadata = ()) -> grpc.StatusCode | set[str]:
    with grpc.insecure_channel(srv.grpc) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        try:
            replies = list(stub.ServerReflectionInfo(iter([request]), metadata=metadata))
        except grpc.RpcError as exc:
            return exc.code()  # type: ignore[no-any-return]
    return {s.name for r in replies for s in r.list_services_response.service}


def test_open_by_default_without_credentials(defaults: ServerThread) -> None:
    base = f"http://{defaults.http}"
    for path in ("/v2/health/ready", "/metrics", "/openapi.json", "/docs", "/redoc"):
        assert httpx.get(base + path).status_code == 200, path
    assert _health_check(defaults) == health_pb2.HealthCheckResponse.SERVING
    assert "grpc.health.v1.Health" in _reflected(defaults)  # type: ignore[operator]


def test_open_health_hides_the_inventory_while_auth_is_on(defaults: ServerThread) -> None:
    body = httpx.get(f"http://{defaults.http}/health").json()
    assert body["status"] == "ok" and body["ready"] is True
    assert "models" not in body  # names and states are for callers with credentials


def test_closed_health_needs_credentials_and_shows_only_visible_models(
    closed: ServerThread,
) -> None:
    url = f"http://{closed.http}/health"
    assert httpx.get(url).status_code == 401
    narrow = httpx.get(url, headers={"Authorization": f"Bearer {_token(['simple'])}"})
    assert narrow.status_code == 200
    assert set(narrow.json()["models"]) == {"simple:1"}
    wide = httpx.get(url, headers={"Authorization": f"Bearer {_token(['*'])}"}).json()
    assert {"simple:1", "digits:1"} <= set(wide["models"])


def test_closed_docs_need_credentials_and_pages_are_gone(closed: ServerThread) -> None:
    base = f"http://{closed.http}"
    refused = httpx.get(base + "/openapi.json")
    assert refused.status_code == 401 and "missing credentials" in refused.json()["error"]
    document = httpx.get(
        base + "/openapi.json", headers={"Authorization": f"Bearer {_token(['*'])}"}
    )
    assert document.status_code == 200 and "/v2/models/{model}/infer" in document.json()["paths"]
    for page in ("/docs", "/redoc", "/docs/assets/swagger-ui.css"):
        assert httpx.get(base + page).status_code == 404, page


def test_closed_grpc_health_and_reflection_need_credentials(closed: ServerThread) -> None:
    unauthenticated = grpc.StatusCode.UNAUTHENTICATED
    assert _health_check(closed) == unauthenticated
    assert _health_watch(closed) == unauthenticated
    assert _reflected(closed) == unauthenticated
    bad = (("authorization", "Bearer not.a.token"),)
    assert _health_check(closed, bad) == unauthenticated
    good = (("authorization", f"Bearer {_token(['*'])}"),)
    serving = health_pb2.HealthCheckResponse.SERVING
    assert _health_check(closed, good) == serving
    assert _health_watch(closed, good) == serving
    assert "inference.GRPCInferenceService" in _reflected(closed, good)  # type: ignore[operator]


def test_auth_disabled_health_lists_every_model(sample_repository: Path) -> None:
    settings = settings_for(sample_repository, startup_models=["simple"])
    with ServerThread(settings) as srv:
        body = httpx.get(f"http://{srv.http}/health").json()
    assert body["models"]["simple:1"] == "READY"
