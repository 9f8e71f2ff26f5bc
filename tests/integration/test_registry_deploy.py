"""push -> deploy -> stock tritonclient sees the new version; failed deploys change nothing."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import tritonclient.http as httpclient

from tests.support.registry import (
    RegistryClient,
    embedded,
    error_of,
    registry_settings,
    serving_repository,
    simple_variant,
)
from tests.support.servers import ServerThread, wait_until


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[ServerThread, RegistryClient]]:
    repo = serving_repository(tmp_path)
    with embedded(repo, registry_settings(tmp_path / "registry")) as srv:
        client = RegistryClient(srv.server.registry_server.url)  # type: ignore[union-attr]
        try:
            yield srv, client
        finally:
            client.close()


def _infer(url: str, version: str = "") -> tuple[str, np.ndarray]:
    a = np.arange(16, dtype=np.int32).reshape(1, 16)
    b = np.full((1, 16), 3, dtype=np.int32)
    with httpclient.InferenceServerClient(url) as client:
        inputs = [httpclient.InferInput("INPUT0", [1, 16], "INT32"),
                  httpclient.InferInput("INPUT1", [1, 16], "INT32")]  # fmt: skip
        inputs[0].set_data_from_numpy(a)
        inputs[1].set_data_from_numpy(b)
        result = client.infer("simple", inputs, model_version=version)
        version = result.get_response()["model_version"]
        return version, result.as_numpy("OUTPUT0") - a  # +3 for Add, -3 for Sub


def test_push_deploy_serves_new_version_and_audits(
    stack: tuple[ServerThread, RegistryClient],
) -> None:
    srv, registry = stack
    assert _infer(srv.http)[0] == "1"
    first = registry.push(simple_variant("Add"))
    assert first.status_code == 201, first.text
    second = registry.push(simple_variant("Sub"), source="test", metrics='{"accuracy": 0.9}')
    assert second.status_code == 201, second.text
    assert second.json()["version"] == 2

    deployed = registry.deploy("simple", "2")
    assert deployed.status_code == 200, deployed.text
    assert deployed.json()["state"] == "succeeded"
    version, delta = _infer(srv.http)
    assert version == "2"
    assert (delta == -3).all()  # the pushed bytes, not the old file
    with httpclient.InferenceServerClient(srv.http) as client:
        index = client.get_model_repository_index()
    ready = [r["version"] for r in index if r["name"] == "simple" and r["state"] == "READY"]
    assert ready == ["2"]  # the old version was drained and unloaded

    actions = [e["action"] for e in registry.audit("simple")]
    assert actions.count("push") == 2
    assert "deploy" in actions and "deploy-succeeded" in actions
    shown = registry.http.get("/v1/models/simple").json()
    assert shown["aliases"] == {"production": 2}
    assert shown["traffic"]["arms"] == {"2": 100}


def test_keep_previous_then_rollback_is_a_policy_flip(
    stack: tuple[ServerThread, RegistryClient],
) -> None:
    srv, registry = stack
    registry.push(simple_variant("Add"))
    registry.push(simple_variant("Sub"))
    assert registry.deploy("simple", "2", keep_previous=True).status_code == 200
    assert _infer(srv.http)[0] == "2"
    assert _infer(srv.http, "1")[0] == "1"  # still loaded
    back = registry.http.post("/v1/models/simple/rollback", json={})
    assert back.status_code == 200, back.text
    assert back.json()["traffic"]["arms"] == {"1": 100}  # a flip, no load
    assert _infer(srv.http)[0] == "1"
    assert "rollback" in [e["action"] for e in registry.audit("simple")]


def test_failed_load_keeps_current_serving(
    stack: tuple[ServerThread, RegistryClient], tmp_path: Path
) -> None:
    srv, registry = stack
    registry.push(simple_variant("Add"))
    bad = simple_variant("Sub")
    # A config whose input does not match the graph: the engine refuses at load.
    wrong = bad.config.replace('name: "INPUT1"', 'name: "NOT_AN_INPUT"')
    pushed = registry.push(bad, config=wrong)
    assert pushed.status_code == 201, pushed.text
    failed = registry.deploy("simple", "2")
    assert failed.status_code == 400
    assert "NOT_AN_INPUT" in error_of(failed) or "INPUT1" in error_of(failed)
    assert _infer(srv.http)[0] == "1"  # untouched
    history = registry.status("simple")["deployments"]
    assert history[0]["state"] == "failed" and history[0]["reason"]
    assert not any(
        p.name.startswith(".") for p in (srv.settings.engine.model_repository / "simple").iterdir()
    )


def test_failed_load_puts_back_a_folder_of_another_origin_with_that_number(
    stack: tuple[ServerThread, RegistryClient],
) -> None:
    """The box already has a folder ``2`` that the registry did not write: a failed deploy of
    the registry's version 2 leaves it exactly as it was."""
    srv, registry = stack
    model_dir = srv.settings.engine.model_repository / "simple"
    shutil.copytree(model_dir / "1", model_dir / "2")
    (model_dir / "2" / "NOTES").write_text("placed by hand\n")
    before = {p.relative_to(model_dir): p.read_bytes() for p in model_dir.rglob("*") if p.is_file()}
    registry.push(simple_variant("Add"))
    bad = simple_variant("Sub")
    pushed = registry.push(bad, config=bad.config.replace('name: "INPUT1"', 'name: "NOT_AN_INPUT"'))
    assert pushed.status_code == 201, pushed.text
    assert registry.deploy("simple", "2").status_code == 400
    after = {p.relative_to(model_dir): p.read_bytes() for p in model_dir.rglob("*") if p.is_file()}
    assert after == before  # the hand-placed version 2 and the config, byte for byte
    assert _infer(srv.http)[0] == "1"


def test_bad_input_is_refused_and_nothing_is_stored(
    stack: tuple[ServerThread, RegistryClient],
) -> None:
    _, registry = stack
    corrupt = registry.push(simple_variant("Add"), data=b"\x08\x07not a model at all")
    assert corrupt.status_code == 400
    assert "not a valid ONNX model" in error_of(corrupt)
    mismatch = registry.push(simple_variant("Add"), sha256="0" * 64)
    assert mismatch.status_code == 400 and "corrupted" in error_of(mismatch)
    assert registry.http.get("/v1/models").json() == []
    assert registry.http.get("/v1/models/nope").status_code == 404
    assert registry.deploy("nope", "1").status_code == 404
    registry.push(simple_variant("Add"))
    assert registry.deploy("simple", "7").status_code == 404
    assert registry.deploy("simple", "staging").status_code == 404
    bad_sum = registry.split("simple", {"1": 60})
    assert bad_sum.status_code == 400 and "sum to 60" in error_of(bad_sum)
    unknown = registry.split("simple", {"1": 50, "9": 50})
    assert unknown.status_code == 400 and "unknown version" in error_of(unknown)


def test_second_deploy_of_a_busy_model_is_409(tmp_path: Path) -> None:
    repo = serving_repository(tmp_path)
    # A drain long enough that the first deploy is still running when the second comes.
    settings = registry_settings(tmp_path / "registry", drain_seconds=3.0)
    with embedded(repo, settings) as srv:
        registry = RegistryClient(srv.server.registry_server.url)  # type: ignore[union-attr]
        try:
            registry.push(simple_variant("Add"))
            registry.push(simple_variant("Sub"))
            results: list[int] = []
            first = threading.Thread(
                target=lambda: results.append(registry.deploy("simple", "2").status_code)
            )
            first.start()
            wait_until(
                lambda: registry.http.get("/v1/models/simple").json()["busy_with"] is not None,
                "first deploy running",
            )
            second = registry.deploy("simple", "1")
            first.join()
            assert second.status_code == 409 and "busy" in error_of(second)
            assert results == [200]
            assert _infer(srv.http)[0] == "2"
        finally:
            registry.close()
