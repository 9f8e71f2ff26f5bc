"""The registry for real: PostgreSQL + S3 behind the CLI, auth on every admin call, the
database or S3 going down (503, nothing half-written, inference keeps serving), and gc."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mlinfer.auth import hash_api_key, new_api_key
from mlinfer.auth.apikeys import ApiKeySpec
from tests.support.postgres import PostgresServer
from tests.support.registry import (
    RegistryClient,
    embedded,
    error_of,
    onnx_bytes,
    registry_settings,
    serving_repository,
    simple_variant,
)
from tests.support.s3 import ACCESS_KEY, SECRET_KEY, S3Server
from tests.support.servers import ServerThread, cli_command, settings_for

pytestmark = [pytest.mark.postgres, pytest.mark.s3]
BODY = {
    "inputs": [
        {"name": "INPUT0", "datatype": "INT32", "shape": [1, 16], "data": list(range(16))},
        {"name": "INPUT1", "datatype": "INT32", "shape": [1, 16], "data": [1] * 16},
    ]
}


@pytest.fixture
def real_stack(tmp_path: Path) -> Iterator[tuple[ServerThread, PostgresServer, S3Server, str]]:
    pg = PostgresServer().start()
    pg.wait_ready()
    s3 = S3Server().start()
    try:
        settings = registry_settings(
            tmp_path / "registry",
            database_url=pg.url,
            artifact_store="s3",
            s3_endpoint_url=s3.endpoint,
            s3_bucket="models",
            s3_access_key=ACCESS_KEY,
            s3_secret_key=SECRET_KEY,
            s3_timeout_seconds=2,
        )
        with embedded(serving_repository(tmp_path), settings) as srv:
            yield srv, pg, s3, srv.server.registry_server.url  # type: ignore[union-attr]
    finally:
        s3.close()
        pg.close()


def _cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MLINFER_REGISTRY_URL": url}
    return subprocess.run(cli_command("registry", *args), capture_output=True, text=True, env=env)


def test_cli_push_deploy_on_postgres_and_s3_then_outages(
    real_stack: tuple[ServerThread, PostgresServer, S3Server, str], tmp_path: Path
) -> None:
    srv, pg, s3, url = real_stack
    model = simple_variant("Sub")
    (tmp_path / "model.onnx").write_bytes(onnx_bytes(model))
    (tmp_path / "config.pbtxt").write_text(model.config)
    pushed = _cli(url, "push", "simple", str(tmp_path / "model.onnx"), "--config",
                  str(tmp_path / "config.pbtxt"), "--metric", "accuracy=0.93")  # fmt: skip
    assert pushed.returncode == 0, pushed.stderr
    assert "simple version 1 pushed" in pushed.stdout and "100%" in pushed.stderr
    deployed = _cli(url, "deploy", "simple", "1")
    assert deployed.returncode == 0, deployed.stderr
    listed = _cli(url, "list")
    assert "production=1" in listed.stdout and "1:100%" in listed.stdout
    with httpx.Client(base_url=f"http://{srv.http}") as http:
        assert http.post("/v2/models/simple/infer", json=BODY).json()["model_version"] == "1"
    assert _cli(url, "show", "nope").returncode == 1
    assert "404" in _cli(url, "show", "nope").stderr

    registry = RegistryClient(url)
    try:
        s3.stop()
        down = registry.push(simple_variant("Add"))
        assert down.status_code == 503 and "S3" in error_of(down)
        pg.stop()
        with httpx.Client(base_url=f"http://{srv.http}") as http:  # inference keeps serving
            assert http.post("/v2/models/simple/infer", json=BODY).status_code == 200
        db_down = registry.http.get("/v1/models")
        assert db_down.status_code == 503 and "database unavailable" in error_of(db_down)
        pg.start()
        pg.wait_ready()
        versions = registry.http.get("/v1/models/simple").json()["versions"]
        assert [v["version"] for v in versions] == [1]  # no row for the failed push
    finally:
        registry.close()


def test_gc_keeps_last_n_and_anything_in_use(
    real_stack: tuple[ServerThread, PostgresServer, S3Server, str],
) -> None:
    _, _, _, url = real_stack
    registry = RegistryClient(url)
    try:
        ops = ["Add", "Sub", "Mul", "Max", "Min"]
        digests = [registry.push(simple_variant(op)).json()["sha256"] for op in ops]
        assert registry.deploy("simple", "2").status_code == 200  # deployed -> kept
        registry.http.put("/v1/models/simple/aliases/staging", json={"version": "3"})
        dry = registry.http.post("/v1/gc", json={"keep_last": 1, "dry_run": True}).json()
        assert dry["removed"] == [
            {"model": "simple", "version": 1},
            {"model": "simple", "version": 4},
        ]
        done = registry.http.post("/v1/gc", json={"keep_last": 1}).json()
        assert done["removed"] == dry["removed"]
        shown = {v["version"]: v for v in registry.http.get("/v1/models/simple").json()["versions"]}
        assert [n for n, v in shown.items() if v["artifact_removed"]] == [1, 4]
        gone = registry.deploy("simple", "1")
        assert gone.status_code == 400 and "garbage-collected" in error_of(gone)
        assert registry.deploy("simple", "5").status_code == 200  # kept ones still deploy
        assert digests[0] != digests[1]
    finally:
        registry.close()


def test_every_admin_call_needs_models_admin(tmp_path: Path) -> None:
    admin_key, reader_key = new_api_key(), new_api_key()
    keys = [
        ApiKeySpec(name="ops", hash=hash_api_key(admin_key), scopes=["infer", "models:admin"]),
        ApiKeySpec(name="app", hash=hash_api_key(reader_key), scopes=["infer"]),
    ]
    repo = serving_repository(tmp_path)
    settings = registry_settings(tmp_path / "registry", serving_api_key=admin_key,
                                 api_key=admin_key)  # fmt: skip
    server = ServerThread(
        settings_for(repo, auth_mode="required", auth_api_keys=keys),
        registry_settings=settings.model_copy(update={"embedded": True}),
    )
    with server as srv:
        url = srv.server.registry_server.url  # type: ignore[union-attr]
        anonymous = RegistryClient(url)
        reader = RegistryClient(url, {"X-API-Key": reader_key})
        admin = RegistryClient(url, {"X-API-Key": admin_key})
        try:
            assert anonymous.http.get("/v1/models").status_code == 401
            assert anonymous.push(simple_variant()).status_code == 401
            refused = reader.deploy("simple", "1")
            assert refused.status_code == 403 and "models:admin" in error_of(refused)
            assert reader.http.get("/v1/traffic/policies").status_code == 403  # no models:read
            assert admin.push(simple_variant()).status_code == 201
            deployed = admin.deploy("simple", "1")  # the registry loads with its own key
            assert deployed.status_code == 200, deployed.text
            assert admin.audit("simple")[0]["actor"] == "ops"
        finally:
            for client in (anonymous, reader, admin):
                client.close()
