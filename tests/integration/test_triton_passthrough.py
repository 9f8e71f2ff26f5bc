"""Pass-through in front of Triton: a REST body goes to Triton's HTTP endpoint and Triton's
answer comes back byte for byte, a gRPC message goes to Triton's ModelInfer as the client sent
it and Triton's message comes back; mlinfer's policies still apply (validation, metrics per
version, the access log's request id). Without ``MLINFER_TRITON_HTTP_URL`` a REST request is
re-encoded over gRPC.

The session's Triton is shared (read only here): ``triton_backed_server`` is mlinfer in front
of it with pass-through on, as the conformance suites run; a second mlinfer on the same Triton
without the HTTP URL is the gRPC-path control.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from prometheus_client.parser import text_string_to_metric_families
from tritonclient.grpc import service_pb2 as pb

from mlinfer.backends.triton.backend import TritonBackend
from mlinfer.core.grpc_messages import request_from_proto
from tests.support.servers import ServerThread, settings_for
from tests.support.triton.server_process import TritonServerProcess

pytestmark = pytest.mark.triton

HEADER_LENGTH = "inference-header-content-length"


def _binary_request(values: np.ndarray, request_id: str) -> tuple[bytes, dict[str, str]]:
    raw = values.astype(np.int32).tobytes()
    header = json.dumps(
        {
            "id": request_id,
            "inputs": [
                {"name": n, "datatype": "INT32", "shape": [1, 16],
                 "parameters": {"binary_data_size": len(raw)}}
                for n in ("INPUT0", "INPUT1")
            ],
            "outputs": [{"name": "OUTPUT0", "parameters": {"binary_data": True}},
                        {"name": "OUTPUT1", "parameters": {"binary_data": True}}],
        }
    ).encode()  # fmt: skip
    headers = {
        "Content-Type": "application/octet-stream",
        "Inference-Header-Content-Length": str(len(header)),
    }
    return header + raw + raw, headers


@pytest.fixture(scope="module")
def grpc_path_server(
    sample_repository: Path, triton_server: TritonServerProcess
) -> Iterator[ServerThread]:
    settings = settings_for(sample_repository, triton_url=triton_server.grpc_url)
    with ServerThread(settings, rest=True, grpc=False) as srv:
        yield srv


def _post(base: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    with httpx.Client(base_url=base) as http:
        return http.post("/v2/models/simple/infer", content=body, headers=headers)


def test_answers_are_tritons_bytes(
    triton_backed_server: ServerThread,
    grpc_path_server: ServerThread,
    triton_server: TritonServerProcess,
) -> None:
    body, headers = _binary_request(np.arange(16), "req-7")
    direct = _post(f"http://{triton_server.http_url}", body, headers)
    forwarded = _post(f"http://{triton_backed_server.http}", body, headers)
    reencoded = _post(f"http://{grpc_path_server.http}", body, headers)
    for answer in (direct, forwarded, reencoded):
        assert answer.status_code == 200, answer.text
    assert forwarded.content == direct.content
    assert forwarded.headers[HEADER_LENGTH] == direct.headers[HEADER_LENGTH]
    assert forwarded.headers["x-request-id"] == "req-7"
    # The control: the gRPC path's own encoding of the same answer is not Triton's bytes
    # (mlinfer writes the request id last, Triton first).
    assert reencoded.content != direct.content
    assert reencoded.content.startswith(b'{"model_name":"simple"')
    assert direct.content.startswith(b'{"id":"req-7"')


def test_json_answers_are_tritons_bytes_too(
    triton_backed_server: ServerThread, triton_server: TritonServerProcess
) -> None:
    body = {"id": "j-1", "inputs": [
        {"name": n, "datatype": "INT32", "shape": [1, 16], "data": list(range(16))}
        for n in ("INPUT0", "INPUT1")]}  # fmt: skip
    with httpx.Client() as http:
        direct = http.post(f"http://{triton_server.http_url}/v2/models/simple/infer", json=body)
        served = http.post(f"http://{triton_backed_server.http}/v2/models/simple/infer", json=body)
    assert direct.status_code == served.status_code == 200, served.text
    assert served.content == direct.content and HEADER_LENGTH not in served.headers
    assert served.headers["content-type"] == "application/json"


def test_a_forwarded_answer_is_counted_under_the_version_that_served(
    triton_backed_server: ServerThread,
) -> None:
    body, headers = _binary_request(np.ones(16), "counted")
    base = f"http://{triton_backed_server.http}"
    before = _successes(base, "simple", "1")
    assert _post(base, body, headers).status_code == 200
    assert _successes(base, "simple", "1") == before + 1


def test_a_model_whose_answers_the_gateway_reads_is_not_forwarded(
    triton_backed_server: ServerThread, triton_server: TritonServerProcess
) -> None:
    """digits keeps a response cache and predicts classes: its answers are decoded (and
    so re-encoded by mlinfer), while simple's in the same server are Triton's bytes."""
    body = {"id": "d-1", "inputs": [
        {"name": "pixels", "datatype": "FP32", "shape": [1, 64], "data": [0.5] * 64}]}  # fmt: skip
    with httpx.Client() as http:
        direct = http.post(f"http://{triton_server.http_url}/v2/models/digits/infer", json=body)
        served = http.post(f"http://{triton_backed_server.http}/v2/models/digits/infer", json=body)
    assert direct.status_code == served.status_code == 200, served.text
    assert direct.json()["outputs"] == served.json()["outputs"]
    assert direct.content.startswith(b'{"id":"d-1"')
    assert not served.content.startswith(b'{"id":"d-1"')


def _successes(base: str, model: str, version: str) -> float:
    text = httpx.get(f"{base}/metrics").text
    for family in text_string_to_metric_families(text):
        if family.name != "mlinfer_model_request_duration_seconds":
            continue
        for sample in family.samples:
            labels = sample.labels
            if (
                sample.name.endswith("_count")
                and labels.get("model") == model
                and labels.get("version") == version
                and labels.get("outcome") == "success"
            ):
                return sample.value
    return 0.0


def _grpc_message(request_id: str) -> pb.ModelInferRequest:
    message = pb.ModelInferRequest(model_name="simple", id=request_id)
    for name in ("INPUT0", "INPUT1"):
        message.inputs.add(name=name, datatype="INT32", shape=[1, 16])
        message.raw_input_contents.append(np.arange(16, dtype=np.int32).tobytes())
    return message


def _inputs(values: np.ndarray) -> list[grpcclient.InferInput]:
    inputs = []
    for name in ("INPUT0", "INPUT1"):
        tensor = grpcclient.InferInput(name, [1, 16], "INT32")
        tensor.set_data_from_numpy(values.astype(np.int32).reshape(1, 16))
        inputs.append(tensor)
    return inputs


async def test_a_grpc_message_goes_to_triton_as_it_is(triton_server: TritonServerProcess) -> None:
    """The backend forwards the client's message and hands back Triton's own answer."""
    backend = TritonBackend(triton_server.grpc_url)
    await backend.start()
    try:
        message = _grpc_message("g-1")
        request = request_from_proto(message)
        request.grpc_message = message
        spec, _ = await backend.model_spec("simple")
        response = await backend.infer(request, spec, 1)
        decoded = request_from_proto(message)  # the same request without a message to send
        reencoded = await backend.infer(decoded, spec, 1)
    finally:
        await backend.stop()
    assert response.grpc_message is not None and response.outputs == []
    assert (response.model_version, response.id) == ("1", "g-1")
    assert reencoded.grpc_message is None and len(reencoded.outputs) == 2
    with grpcclient.InferenceServerClient(triton_server.grpc_url) as direct:
        expected = direct.infer("simple", _inputs(np.arange(16)), request_id="g-1")
    assert response.grpc_message == expected.get_response()


def test_grpc_clients_get_tritons_message(
    triton_backed_server: ServerThread, triton_server: TritonServerProcess
) -> None:
    answers = []
    for url in (triton_backed_server.grpc, triton_server.grpc_url):
        with grpcclient.InferenceServerClient(url) as client:
            answer = client.infer("simple", _inputs(np.full(16, 3)), request_id="g-2")
            answers.append(answer.get_response())
    served, direct = answers
    assert served == direct
    sums = {o.name: np.frombuffer(raw, np.int32).tolist()
            for o, raw in zip(served.outputs, served.raw_output_contents, strict=True)}  # fmt: skip
    assert sums == {"OUTPUT0": [6] * 16, "OUTPUT1": [0] * 16}
