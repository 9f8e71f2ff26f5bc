"""Deadlines on a slow peer: with a real Triton frozen (SIGSTOP), requests proxied to it are
answered 504 / DEADLINE_EXCEEDED once the backend deadline (or the client's, when sooner) passes,
instead of waiting for the whole freeze; once Triton is resumed (SIGCONT) serving goes on.

The freeze lasts until the test resumes Triton, so code without deadlines fails here on the
clients' safety-net timeouts (far longer than the deadlines) rather than passing slowly.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from tritonclient.grpc import model_config_pb2 as mc
from tritonclient.utils import InferenceServerException

from mlinfer.backends.settings import TritonSettings
from mlinfer.backends.triton.backend import TritonBackend
from mlinfer.core.errors import DeadlineExceededError
from mlinfer.core.model_spec import ModelSpec, spec_from_config
from mlinfer.core.types import InferRequest, Tensor
from tests.support.servers import ServerThread, settings_for, wait_until
from tests.support.triton.server_process import TritonServerProcess
from tests.support.triton.targets import python_repository, require_triton, start_triton

pytestmark = pytest.mark.triton

INFER_DEADLINE_S = 2.0
SAFETY_NET_S = 180.0  # only a hang (no deadline at all) gets this far


@pytest.fixture(scope="module")
def triton(
    sample_repository: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TritonServerProcess]:
    require_triton()
    repo = python_repository(
        sample_repository, tmp_path_factory.mktemp("frozen-triton") / "models", ["simple"]
    )
    proc = start_triton(
        repo, repo.parent / "triton.log", model_control_mode="explicit", load_models=["simple"]
    )
    try:
        yield proc
    finally:
        _resume(proc)
        proc.stop()


@pytest.fixture(scope="module")
def mlinfer(sample_repository: Path, triton: TritonServerProcess) -> Iterator[ServerThread]:
    settings = settings_for(
        sample_repository,
        triton_url=triton.grpc_url,
        triton_infer_timeout_s=INFER_DEADLINE_S,
        triton_control_timeout_s=INFER_DEADLINE_S,
    )
    with ServerThread(settings, rest=True, grpc=True) as srv:
        yield srv


def _resume(proc: TritonServerProcess) -> None:
    if proc.pid is not None and proc.running:
        os.kill(proc.pid, signal.SIGCONT)


@pytest.fixture
def frozen(triton: TritonServerProcess, mlinfer: ServerThread) -> Iterator[TritonServerProcess]:
    warm = _rest_infer(mlinfer)
    assert warm.status_code == 200, warm.text  # signature cached, channel connected
    assert triton.pid is not None
    os.kill(triton.pid, signal.SIGSTOP)
    try:
        yield triton
    finally:
        os.kill(triton.pid, signal.SIGCONT)
    wait_until(lambda: _rest_infer(mlinfer).status_code == 200, "mlinfer serves after SIGCONT")


def _simple_body() -> dict[str, object]:
    ones = [1] * 16
    return {
        "inputs": [
            {"name": "INPUT0", "datatype": "INT32", "shape": [1, 16], "data": ones},
            {"name": "INPUT1", "datatype": "INT32", "shape": [1, 16], "data": ones},
        ]
    }


def _rest_infer(srv: ServerThread) -> httpx.Response:
    return httpx.post(
        f"http://{srv.http}/v2/models/simple/infer", json=_simple_body(), timeout=SAFETY_NET_S
    )


def _grpc_inputs() -> list[grpcclient.InferInput]:
    out = []
    for name in ("INPUT0", "INPUT1"):
        tensor = grpcclient.InferInput(name, [1, 16], "INT32")
        tensor.set_data_from_numpy(np.ones((1, 16), np.int32))
        out.append(tensor)
    return out


def test_rest_inference_on_a_frozen_triton_is_504(
    mlinfer: ServerThread, frozen: TritonServerProcess
) -> None:
    response = _rest_infer(mlinfer)
    assert response.status_code == 504, response.text
    assert response.json()["error"] == (
        f"Triton at {frozen.grpc_url} did not answer within the deadline of 2 s"
    )
    # Probes answer too, rather than hang: not ready while Triton does not answer.
    ready = httpx.get(f"http://{mlinfer.http}/v2/health/ready", timeout=SAFETY_NET_S)
    assert ready.status_code == 400


def test_grpc_inference_on_a_frozen_triton_is_deadline_exceeded(
    mlinfer: ServerThread, frozen: TritonServerProcess
) -> None:
    client = grpcclient.InferenceServerClient(mlinfer.grpc)
    try:
        with pytest.raises(InferenceServerException) as info:
            client.infer("simple", _grpc_inputs(), client_timeout=SAFETY_NET_S)
    finally:
        client.close()
    assert info.value.status() == "StatusCode.DEADLINE_EXCEEDED"
    assert info.value.message() == (
        f"Triton at {frozen.grpc_url} did not answer within the deadline of 2 s"
    )


def test_the_clients_sooner_deadline_is_the_one_passed_to_triton(
    triton: TritonServerProcess, frozen: TritonServerProcess
) -> None:
    """A backend deadline far past the freeze; the request's own deadline (a gRPC client's,
    as the servicer sets it) bounds the call to Triton."""
    patient = TritonSettings(url=triton.grpc_url, infer_timeout_s=SAFETY_NET_S * 10)

    async def infer() -> str:
        backend = TritonBackend(triton.grpc_url, deadlines=patient)
        ones = np.ones((1, 16), np.int32)
        request = InferRequest(
            "simple",
            [Tensor("INPUT0", "INT32", (1, 16), ones), Tensor("INPUT1", "INT32", (1, 16), ones)],
            deadline=time.monotonic() + 1.0,
        )
        spec = _simple_spec()
        try:
            await asyncio.wait_for(backend.infer(request, spec, 1), SAFETY_NET_S)
        except DeadlineExceededError as exc:
            return exc.message
        finally:
            await backend.stop()
        return "answered"

    message = asyncio.run(infer())
    found = re.fullmatch(
        rf"Triton at {re.escape(triton.grpc_url)} did not answer within the deadline of "
        r"([0-9.]+) s",
        message,
    )
    assert found, message
    assert float(found.group(1)) <= 1.0  # the client's second, not the backend's setting


def _simple_spec() -> ModelSpec:
    config = mc.ModelConfig(name="simple", max_batch_size=8)
    for name in ("INPUT0", "INPUT1"):
        config.input.add(name=name, data_type=mc.TYPE_INT32, dims=[16])
    for name in ("OUTPUT0", "OUTPUT1"):
        config.output.add(name=name, data_type=mc.TYPE_INT32, dims=[16])
    return spec_from_config(config)


def test_grpc_client_deadline_reaches_the_request(mlinfer: ServerThread) -> None:
    """The servicer turns the client's gRPC deadline into the request's deadline."""
    seen: list[float | None] = []
    dataplane = mlinfer.server.dataplane  # type: ignore[union-attr]
    original = dataplane.infer

    async def spy(request: InferRequest) -> object:
        seen.append(request.deadline)
        return await original(request)

    dataplane.infer = spy
    client = grpcclient.InferenceServerClient(mlinfer.grpc)
    try:
        before = time.monotonic()
        client.infer("simple", _grpc_inputs(), client_timeout=SAFETY_NET_S)
        after = time.monotonic()
        client.infer("simple", _grpc_inputs())
    finally:
        client.close()
        del dataplane.infer
    assert seen[0] is not None and before + SAFETY_NET_S <= seen[0] <= after + SAFETY_NET_S
    assert seen[1] is None
