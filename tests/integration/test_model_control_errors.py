"""Model control with names and configs a client gets wrong: a 4xx naming the problem, no trace
left behind, and the model that was serving keeps serving (REST and gRPC, stock clients)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from tests.support.servers import ServerThread, settings_for
from tests.support.triton.targets import python_repository, require_triton, start_triton

LONG_NAME = "m" * 300
# Names no repository holds: they must not appear anywhere after a failed load.
FOREIGN_NAMES = ("..", "a\0b", LONG_NAME, "not-in-the-repository")


@pytest.fixture(scope="module")
def srv(
    sample_repository: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerThread]:
    repo = tmp_path_factory.mktemp("control") / "repo"
    shutil.copytree(sample_repository, repo)
    with ServerThread(settings_for(repo), rest=True, grpc=True) as server:
        yield server


@pytest.fixture
def http(srv: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"http://{srv.http}") as client:
        yield client


@pytest.fixture
def grpc_client(srv: ServerThread) -> Iterator[grpcclient.InferenceServerClient]:
    client = grpcclient.InferenceServerClient(srv.grpc)
    try:
        yield client
    finally:
        client.close()


def _simple_sum(http: httpx.Client) -> int:
    ones = [1] * 16
    body = {
        "inputs": [
            {"name": "INPUT0", "datatype": "INT32", "shape": [1, 16], "data": ones},
            {"name": "INPUT1", "datatype": "INT32", "shape": [1, 16], "data": ones},
        ]
    }
    response = http.post("/v2/models/simple/infer", json=body)
    assert response.status_code == 200, response.text
    (out,) = [o for o in response.json()["outputs"] if o["name"] == "OUTPUT0"]
    return int(np.sum(out["data"]))


# -- 7: a name longer than any file name ---------------------------------------------------
def test_long_name_load_is_400_over_rest(srv: ServerThread) -> None:
    client = httpclient.InferenceServerClient(srv.http)
    with pytest.raises(InferenceServerException) as info:
        client.load_model(LONG_NAME)
    assert info.value.status() == "400", info.value
    assert "model name is 300 bytes long: a model name is at most 255 bytes" in str(info.value)


def test_long_name_load_is_invalid_argument_over_grpc(
    grpc_client: grpcclient.InferenceServerClient,
) -> None:
    with pytest.raises(InferenceServerException) as info:
        grpc_client.load_model(LONG_NAME)
    assert info.value.status() == "StatusCode.INVALID_ARGUMENT"
    assert "at most 255 bytes" in info.value.message()
    assert grpc_client.is_server_ready()


def test_multibyte_name_is_measured_in_bytes(http: httpx.Client) -> None:
    # 128 characters, 256 bytes in UTF-8: too long for a directory name.
    response = http.post(f"/v2/repository/models/{'é' * 128}/load")
    assert response.status_code == 400, response.text
    assert "256 bytes long" in response.json()["error"]


# -- 8: failed loads of names the repository does not hold leave no trace -------------------
def _index_names(http: httpx.Client) -> set[str]:
    response = http.post("/v2/repository/index", json={})
    assert response.status_code == 200
    return {row["name"] for row in response.json()}


def test_failed_loads_of_foreign_names_leave_no_trace(
    srv: ServerThread, http: httpx.Client, grpc_client: grpcclient.InferenceServerClient
) -> None:
    before = _index_names(http)
    rest = httpclient.InferenceServerClient(srv.http)
    for name in FOREIGN_NAMES:
        with pytest.raises(InferenceServerException):
            rest.load_model(name)
        with pytest.raises(InferenceServerException):
            grpc_client.load_model(name)
        assert grpc_client.is_model_ready(name) is False
    assert _index_names(http) == before
    grpc_index = {m.name for m in grpc_client.get_model_repository_index().models}
    assert grpc_index == before
    metrics = http.get("/metrics").text
    stats = http.get("/v2/models/stats").json()
    for name in FOREIGN_NAMES[2:]:
        assert name not in metrics
        assert name not in json.dumps(stats)
    backend = srv.server.dataplane.backend  # type: ignore[union-attr]
    held = set(backend._models) | set(backend._locks)
    assert held <= before, held - before


def test_unload_of_a_foreign_name_keeps_nothing(
    srv: ServerThread, http: httpx.Client, grpc_client: grpcclient.InferenceServerClient
) -> None:
    before = _index_names(http)
    assert http.post("/v2/repository/models/no-such-model/unload").status_code == 200
    grpc_client.unload_model("another-missing-model")
    assert _index_names(http) == before
    backend = srv.server.dataplane.backend  # type: ignore[union-attr]
    assert not {"no-such-model", "another-missing-model"} & set(backend._locks)


# -- 9: config overrides are checked as Triton checks them ----------------------------------
def _config(http: httpx.Client) -> dict[str, object]:
    response = http.get("/v2/models/simple/config")
    assert response.status_code == 200
    config: dict[str, object] = response.json()
    return config


OVERRIDES = {
    "negative max_batch_size": (
        {"max_batch_size": -5},
        "'max_batch_size' must be non-negative value for simple",
    ),
    "another model's name": (
        {"name": "digits"},
        "model name 'digits' in the 'config' override does not match model 'simple'",
    ),
    "warmup batch past max_batch_size": (
        {
            "model_warmup": [
                {
                    "name": "big",
                    "batch_size": 100,
                    "inputs": {
                        n: {"data_type": "TYPE_INT32", "dims": [16], "zero_data": True}
                        for n in ("INPUT0", "INPUT1")
                    },
                }
            ]
        },
        "failed to run warmup sample 'big': batch size 100 for 'simple', max allowed is 8",
    ),
    "priority levels without a default level": (
        {"dynamic_batching": {"priority_levels": 2}},
        "default priority level must be in range [1, 2] for simple",
    ),
    "input without data_type": (
        {"input": [{"name": "INPUT0", "dims": [16]}]},
        "model input 'INPUT0' must specify 'data_type' for simple",
    ),
    "preferred batch size over max": (
        {"dynamic_batching": {"preferred_batch_size": [16]}},
        "dynamic batching preferred size must be <= max batch size for simple",
    ),
    "default priority level past the levels": (
        {"dynamic_batching": {"priority_levels": 2, "default_priority_level": 3}},
        "default priority level must be in range [1, 2] for simple",
    ),
    "input dimension zero": (
        {"input": [{"name": "INPUT0", "data_type": "TYPE_INT32", "dims": [0]}]},
        "dimension must be integer >= 1, or -1 to indicate a variable-size dimension for simple",
    ),
}


@pytest.mark.parametrize("case", list(OVERRIDES))
def test_bad_override_is_400_and_old_config_keeps_serving_rest(
    http: httpx.Client, case: str
) -> None:
    override, message = OVERRIDES[case]
    before = _config(http)
    full = {**before, **override}
    response = http.post(
        "/v2/repository/models/simple/load", json={"parameters": {"config": json.dumps(full)}}
    )
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]
    assert _config(http) == before
    assert _simple_sum(http) == 32


@pytest.mark.parametrize("case", list(OVERRIDES))
def test_bad_override_is_invalid_argument_grpc(
    http: httpx.Client, grpc_client: grpcclient.InferenceServerClient, case: str
) -> None:
    override, message = OVERRIDES[case]
    before = _config(http)
    with pytest.raises(InferenceServerException) as info:
        grpc_client.load_model("simple", config=json.dumps({**before, **override}))
    assert info.value.status() == "StatusCode.INVALID_ARGUMENT"
    assert message in info.value.message()
    assert _config(http) == before
    assert _simple_sum(http) == 32


def test_good_override_still_loads(http: httpx.Client) -> None:
    before = _config(http)
    # Triton takes an instance count below 1 as one instance.
    changed = {**before, "max_batch_size": 4, "instance_group": [{"count": -2}]}
    response = http.post(
        "/v2/repository/models/simple/load", json={"parameters": {"config": json.dumps(changed)}}
    )
    assert response.status_code == 200, response.text
    assert _config(http)["max_batch_size"] == 4
    restore = http.post(
        "/v2/repository/models/simple/load", json={"parameters": {"config": json.dumps(before)}}
    )
    assert restore.status_code == 200, restore.text


# -- in front of a real Triton: the same answers (Triton's own are INTERNAL for these) -------
@pytest.fixture(scope="module")
def triton_srv(
    sample_repository: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerThread]:
    require_triton()
    repo = python_repository(
        sample_repository, tmp_path_factory.mktemp("control-triton") / "models", ["simple"]
    )
    proc = start_triton(
        repo, repo.parent / "triton.log", model_control_mode="explicit", load_models=["simple"]
    )
    try:
        settings = settings_for(sample_repository, triton_url=proc.grpc_url)
        with ServerThread(settings, rest=True, grpc=True) as server:
            yield server
    finally:
        proc.stop()


TRITON_CASES = {
    "long name": (LONG_NAME, None, "at most 255 bytes"),
    "another model's name": (
        "simple",
        {"name": "digits"},
        "model name 'digits' in the 'config' override does not match model 'simple'",
    ),
    "negative max_batch_size": (
        "simple",
        {"max_batch_size": -5},
        "'max_batch_size' must be non-negative value for simple",
    ),
}


@pytest.mark.triton
@pytest.mark.parametrize("case", list(TRITON_CASES))
def test_in_front_of_triton_bad_loads_are_client_errors(
    triton_srv: ServerThread, case: str
) -> None:
    name, override, message = TRITON_CASES[case]
    with httpx.Client(base_url=f"http://{triton_srv.http}") as http:
        before = _config(http)
        config = None if override is None else json.dumps({**before, **override})
        body = {} if config is None else {"parameters": {"config": config}}
        response = http.post(f"/v2/repository/models/{name}/load", json=body)
        assert response.status_code == 400, response.text
        assert message in response.json()["error"]
        client = grpcclient.InferenceServerClient(triton_srv.grpc)
        try:
            with pytest.raises(InferenceServerException) as info:
                client.load_model(name, config=config)
        finally:
            client.close()
        assert info.value.status() == "StatusCode.INVALID_ARGUMENT"
        assert message in info.value.message()
        assert _config(http) == before
        assert _simple_sum(http) == 32
