"""The fleet admin API on a box that hosts its own registry (``mlinfer serve`` with the
registry in-process, enrolled as a box of it): bad input gets a 4xx naming the problem,
one rollout per model at a time, abort returns the box to what it served."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mlinfer.auth import hash_api_key, new_api_key
from mlinfer.auth.apikeys import ApiKeySpec
from tests.support.fleet import wait_rollout
from tests.support.registry import (
    SIMPLE_BODY,
    RegistryClient,
    embedded,
    error_of,
    registry_settings,
    serving_repository,
    simple_variant,
)
from tests.support.servers import ServerThread, settings_for


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[ServerThread, RegistryClient, Path]]:
    repo = serving_repository(tmp_path)
    with embedded(repo, registry_settings(tmp_path / "registry")) as srv:
        client = RegistryClient(srv.server.registry_server.url)  # type: ignore[union-attr]
        try:
            yield srv, client, repo
        finally:
            client.close()


def _enroll(client: RegistryClient, name: str, url: str, repo: Path, **labels: str) -> Any:
    body = {"url": url, "repository": str(repo), "labels": labels}
    return client.http.put(f"/v1/fleet/boxes/{name}", json=body)


def test_bad_input_gets_a_4xx_that_names_the_problem(
    stack: tuple[ServerThread, RegistryClient, Path],
) -> None:
    srv, client, repo = stack
    assert client.push(simple_variant("Sub")).status_code == 201
    url = f"http://{srv.http}"
    for name, box_url, problem in (
        ("bad name!", url, "box name"),
        ("box", "ftp://x", "box url must be http"),
    ):
        response = _enroll(client, name, box_url, repo)
        assert response.status_code == 400 and problem in error_of(response), response.text
    assert _enroll(client, "box", url, repo, site="lab").status_code == 200
    rollouts = "/v1/fleet/rollouts"
    for body, status, problem in (
        ({"model": "nope", "version": "1"}, 404, "nope"),
        ({"model": "simple", "version": "9"}, 404, "9"),
        ({"model": "simple", "version": "1", "waves": []}, 400, "non-empty list"),
        ({"model": "simple", "version": "1", "waves": [{"count": -1}]}, 400, "count"),
        ({"model": "simple", "version": "1", "criteria": {"soak": 1}}, 400, "unknown criteria"),
        ({"model": "simple", "version": "1", "analysis": {"p99": 1}}, 400, "unknown analysis"),
        ({"model": "simple", "version": "1", "selector": {"site": "x"}}, 400, "no enrolled box"),
    ):
        response = client.http.post(rollouts, json=body)
        assert response.status_code == status, (body, response.text)
        assert problem in error_of(response), (body, response.text)
    assert client.http.get(f"{rollouts}/99").status_code == 404
    assert client.http.post(f"{rollouts}/99/abort").status_code == 404
    assert client.http.get("/v1/fleet/boxes/ghost").status_code == 404
    assert client.http.get("/v1/fleet/boxes", params={"selector": "site"}).status_code == 400
    paths = client.http.get("/openapi.json").json()["paths"]
    assert {"/v1/fleet/boxes/{name}", "/v1/fleet/rollouts", "/v1/fleet/rollouts/{rollout_id}",
            "/v1/fleet/rollouts/{rollout_id}/abort"} <= set(paths)  # fmt: skip


def test_one_rollout_per_model_and_abort_restores_what_served(
    stack: tuple[ServerThread, RegistryClient, Path],
) -> None:
    srv, client, repo = stack
    assert client.push(simple_variant("Add")).status_code == 201  # 1: what the box holds
    assert client.push(simple_variant("Sub")).status_code == 201  # 2
    assert _enroll(client, "self", f"http://{srv.http}", repo, site="lab").status_code == 200
    body = {"model": "simple", "version": "2", "criteria": {"soak_s": 3600}}
    started = client.http.post("/v1/fleet/rollouts", json=body)
    assert started.status_code == 201, started.text
    rollout_id = started.json()["id"]
    observing = _wait_box_state(client, rollout_id, "self", "observing")
    assert observing["boxes"]["self"]["previous"] == [1]
    assert _served_version(srv) == "2"  # the box swapped in the version it was given

    again = client.http.post("/v1/fleet/rollouts", json=body)
    assert again.status_code == 409 and "still running" in error_of(again)

    aborted = client.http.post(f"/v1/fleet/rollouts/{rollout_id}/abort")
    assert aborted.status_code == 200, aborted.text
    assert aborted.json()["state"] == "aborted"
    assert aborted.json()["boxes"]["self"]["state"] == "rolled_back"
    assert _served_version(srv) == "1"
    twice = client.http.post(f"/v1/fleet/rollouts/{rollout_id}/abort")
    assert twice.status_code == 409 and "aborted, not running" in error_of(twice)
    actions = [e["action"] for e in client.audit("simple")]
    assert "fleet-rollout" in actions and "fleet-aborted" in actions


def _served_version(srv: ServerThread) -> str:
    response = httpx.post(f"http://{srv.http}/v2/models/simple/infer", json=SIMPLE_BODY)
    assert response.status_code == 200, response.text
    return str(response.json()["model_version"])


def _wait_box_state(
    client: RegistryClient, rollout_id: int, box: str, state: str
) -> dict[str, Any]:
    import time

    for _ in range(1500):
        doc: dict[str, Any] = client.http.get(f"/v1/fleet/rollouts/{rollout_id}").json()
        if doc["boxes"][box]["state"] == state:
            return doc
        time.sleep(0.2)
    raise AssertionError(f"box {box} never {state}: {doc}")


def test_a_version_the_engine_refuses_fails_the_box_and_it_keeps_serving(
    stack: tuple[ServerThread, RegistryClient, Path],
) -> None:
    srv, client, repo = stack
    model = simple_variant("Sub")
    wrong = model.config.replace('name: "INPUT1"', 'name: "INPUT9"')
    assert wrong != model.config
    assert client.push(simple_variant("Add")).status_code == 201  # 1: what the box holds
    pushed = client.push(model, config=wrong)  # 2: a config the engine refuses
    assert pushed.status_code == 201, pushed.text
    assert _enroll(client, "self", f"http://{srv.http}", repo).status_code == 200
    started = client.http.post(
        "/v1/fleet/rollouts", json={"model": "simple", "version": "2", "waves": [{"count": 1}]}
    )
    assert started.status_code == 201, started.text
    done = wait_rollout(str(client.http.base_url).rstrip("/"), started.json()["id"],
                        ("rolled_back", "succeeded"))  # fmt: skip
    assert done["state"] == "rolled_back", done
    box = done["boxes"]["self"]
    assert box["state"] == "failed" and box["reason"].startswith("deploy failed:"), box
    assert "does not declare" in box["reason"]  # the engine's own reason
    assert _served_version(srv) == "1"
    assert not (repo / "simple" / "2").exists()  # the refused version left nothing behind
    response = httpx.post(f"http://{srv.http}/v2/models/simple/infer", json=SIMPLE_BODY)
    outputs = {o["name"]: o["data"] for o in response.json()["outputs"]}
    assert outputs["OUTPUT0"] == [i + 1 for i in range(16)]  # still Add, not the pushed Sub


def test_fleet_calls_need_models_admin_and_boxes_are_loaded_with_the_registry_key(
    tmp_path: Path,
) -> None:
    admin_key, reader_key = new_api_key(), new_api_key()
    keys = [
        ApiKeySpec(name="ops", hash=hash_api_key(admin_key), scopes=["infer", "models:admin"]),
        ApiKeySpec(name="app", hash=hash_api_key(reader_key), scopes=["infer"]),
    ]
    repo = serving_repository(tmp_path)
    settings = registry_settings(tmp_path / "registry", serving_api_key=admin_key)
    server = ServerThread(
        settings_for(repo, auth_mode="required", auth_api_keys=keys),
        registry_settings=settings.model_copy(update={"embedded": True}),
    )
    with server as srv:
        url = srv.server.registry_server.url  # type: ignore[union-attr]
        reader = RegistryClient(url, {"X-API-Key": reader_key})
        admin = RegistryClient(url, {"X-API-Key": admin_key})
        try:
            assert httpx.get(f"{url}/v1/fleet/boxes").status_code == 401
            refused = _enroll(reader, "self", f"http://{srv.http}", repo)
            assert refused.status_code == 403 and "models:admin" in error_of(refused)
            criteria = {"soak_s": 0.5, "require_traffic": False, "max_holds": 1}
            body = {"model": "simple", "version": "2", "waves": [{"count": 1}]}
            body["criteria"] = criteria
            assert reader.http.post("/v1/fleet/rollouts", json=body).status_code == 403
            assert admin.push(simple_variant("Add")).status_code == 201
            assert admin.push(simple_variant("Sub")).status_code == 201
            assert _enroll(admin, "self", f"http://{srv.http}", repo).status_code == 200
            started = admin.http.post("/v1/fleet/rollouts", json=body)
            assert started.status_code == 201, started.text
            done = _wait_box_state(admin, started.json()["id"], "self", "succeeded")
            assert done["boxes"]["self"]["previous"] == [1]
            assert done["created_by"] == "ops"
        finally:
            reader.close()
            admin.close()
