"""Locust load test for mlinfer (or any server speaking the Open Inference Protocol).

    locust -f tests/load/locustfile.py --host=http://127.0.0.1:8000
    locust -f tests/load/locustfile.py --host=http://127.0.0.1:8000 --headless -u 16 -r 4 \\
        --run-time 1m RestInferUser            # REST only; GrpcInferUser for gRPC only

REST requests use the binary tensor data extension both ways (a JSON header, then the raw
tensors; ``Inference-Header-Content-Length``), as tritonclient and perf_analyzer send them;
the gRPC user sends ``ModelInfer`` with ``raw_input_contents`` through tritonclient.grpc.
Every answer is checked (status, output names, byte counts): a wrong answer is a failure
in Locust's statistics, not a fast success. Inputs are random tensors shaped from the
model's metadata (``-1`` dimensions as 1). Environment:

    MLINFER_LOCUST_MODEL   model to load-test (default: simple)
    MLINFER_LOCUST_GRPC    gRPC target host:port (default: the --host's host, port 8001)
    MLINFER_LOCUST_TOKEN   bearer token sent by both users when the server requires auth
    MLINFER_LOCUST_ITERATIONS  requests per user, then it stops; the run ends when every
                           user has (default 0: until --run-time or Ctrl-C)

The gRPC user's calls block gevent's loop while they wait (grpcio's gevent mode, which would
avoid that, upsets Locust's timers): give gRPC users a Locust process of their own
(``--processes``) when they share a run with many REST users.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any
from urllib.parse import urlsplit

import gevent
import numpy as np
from locust import FastHttpUser, User, constant, events, task
from locust.exception import StopUser

MODEL = os.environ.get("MLINFER_LOCUST_MODEL", "simple")
TOKEN = os.environ.get("MLINFER_LOCUST_TOKEN", "")
ITERATIONS = int(os.environ.get("MLINFER_LOCUST_ITERATIONS", "0"))
_finished_users = 0
NUMPY_TYPES = {
    "BOOL": np.bool_, "INT8": np.int8, "INT16": np.int16, "INT32": np.int32,
    "INT64": np.int64, "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32,
    "UINT64": np.uint64, "FP16": np.float16, "FP32": np.float32, "FP64": np.float64,
}  # fmt: skip


def _auth_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"} if TOKEN else {}


def _one_more(user: User) -> None:
    """Count one request of ``user``; past ``ITERATIONS`` it stops (and the run with the last)."""
    user.done = getattr(user, "done", 0) + 1
    if ITERATIONS and user.done >= ITERATIONS:
        _finish(user)


def _finish(user: User) -> None:
    global _finished_users
    _finished_users += 1
    runner = user.environment.runner
    if ITERATIONS and runner is not None and _finished_users >= runner.target_user_count:
        gevent.spawn(runner.quit)  # not from this greenlet: quitting kills the users
    raise StopUser()


def _random_inputs(metadata: dict[str, Any]) -> list[tuple[str, str, np.ndarray]]:
    rng = np.random.default_rng(0)
    inputs = []
    for spec in metadata["inputs"]:
        datatype = spec["datatype"]
        if datatype not in NUMPY_TYPES:
            raise ValueError(f"input {spec['name']}: {datatype} has no random generator here")
        shape = [1 if d < 0 else d for d in spec["shape"]]
        array = (rng.random(shape) * 10).astype(NUMPY_TYPES[datatype])
        inputs.append((spec["name"], datatype, array))
    return inputs


def _binary_body(
    inputs: list[tuple[str, str, np.ndarray]], outputs: list[str]
) -> tuple[bytes, int]:
    header = {
        "inputs": [
            {
                "name": name,
                "datatype": dt,
                "shape": list(a.shape),
                "parameters": {"binary_data_size": a.nbytes},
            }
            for name, dt, a in inputs
        ],
        "outputs": [{"name": o, "parameters": {"binary_data": True}} for o in outputs],
    }
    head = json.dumps(header).encode()
    return head + b"".join(a.tobytes() for _, _, a in inputs), len(head)


class RestInferUser(FastHttpUser):
    """``POST /v2/models/{model}/infer`` with binary tensors, back to back."""

    wait_time = constant(0)

    def on_start(self) -> None:
        with self.client.get(
            f"/v2/models/{MODEL}", headers=_auth_headers(), name="model metadata",
            catch_response=True,
        ) as meta:  # fmt: skip
            if meta.status_code != 200:
                meta.failure(f"metadata of {MODEL}: {meta.status_code} {meta.text[:200]}")
                _finish(self)
            metadata = meta.json()
        self.outputs = [o["name"] for o in metadata["outputs"]]
        self.body, head = _binary_body(_random_inputs(metadata), self.outputs)
        self.headers = {
            "Inference-Header-Content-Length": str(head),
            "Content-Type": "application/octet-stream",
            **_auth_headers(),
        }

    @task
    def infer(self) -> None:
        with self.client.post(
            f"/v2/models/{MODEL}/infer", data=self.body, headers=self.headers,
            name=f"POST /v2/models/{MODEL}/infer", catch_response=True,
        ) as response:  # fmt: skip
            problem = _check_rest(response.status_code, response.headers, response.content,
                                  self.outputs)  # fmt: skip
            if problem:
                response.failure(problem)
        _one_more(self)


def _check_rest(status: int, headers: Any, content: bytes | None, outputs: list[str]) -> str:
    body = content or b""
    if status != 200:
        return f"HTTP {status}: {body[:200]!r}"
    size = headers.get("Inference-Header-Content-Length")
    if size is None:
        return "no Inference-Header-Content-Length: outputs did not come back as binary"
    doc = json.loads(body[: int(size)])
    names = [o["name"] for o in doc.get("outputs", [])]
    if sorted(names) != sorted(outputs):
        return f"outputs {names}, expected {outputs}"
    expected = sum(o["parameters"]["binary_data_size"] for o in doc["outputs"])
    if len(body) - int(size) != expected:
        return f"{len(body) - int(size)} bytes of tensors, the header announces {expected}"
    return ""


class GrpcInferUser(User):
    """``ModelInfer`` with ``raw_input_contents`` through tritonclient.grpc, back to back."""

    wait_time = constant(0)

    def on_start(self) -> None:
        import tritonclient.grpc as grpcclient

        target = os.environ.get("MLINFER_LOCUST_GRPC") or f"{urlsplit(self.host).hostname}:8001"
        self.client = grpcclient.InferenceServerClient(target)
        start = time.perf_counter()
        try:
            metadata = self.client.get_model_metadata(MODEL, headers=_auth_headers(), as_json=True)
        except Exception as exc:  # counted like the REST user's failed metadata request
            _fire("model metadata", start, 0, exc)
            metadata = None
        if metadata is None:
            _finish(self)
        for spec in metadata["inputs"]:
            spec["shape"] = [int(d) for d in spec["shape"]]
        self.outputs = [o["name"] for o in metadata["outputs"]]
        self.inputs = []
        for name, datatype, array in _random_inputs(metadata):
            tensor = grpcclient.InferInput(name, list(array.shape), datatype)
            tensor.set_data_from_numpy(array)
            self.inputs.append(tensor)
        self.requested = [grpcclient.InferRequestedOutput(o) for o in self.outputs]

    def on_stop(self) -> None:
        self.client.close()

    @task
    def infer(self) -> None:
        start = time.perf_counter()
        problem: Exception | None = None
        length = 0
        try:
            result = self.client.infer(
                MODEL, self.inputs, outputs=self.requested, headers=_auth_headers()
            )
            raw = result.get_response().raw_output_contents
            length = sum(len(r) for r in raw)
            if len(raw) != len(self.outputs):
                problem = AssertionError(f"{len(raw)} raw outputs, expected {len(self.outputs)}")
        except Exception as exc:  # Locust's statistics show it as a failure
            problem = exc
        _fire("ModelInfer", start, length, problem)
        _one_more(self)


def _fire(name: str, start: float, length: int, problem: Exception | None) -> None:
    events.request.fire(
        request_type="grpc",
        name=name,
        response_time=(time.perf_counter() - start) * 1000,
        response_length=length,
        exception=problem,
        context={},
    )
