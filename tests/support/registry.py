"""Registry test helpers: model variants to push, a thin admin client, servers wired to it."""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import tritonclient.grpc.aio as grpcaio
from tritonclient.grpc import InferInput

from mlinfer.registry.settings import RegistrySettings
from mlinfer.samples.graph import INT32, GraphBuilder
from mlinfer.samples.models import SampleModel, simple_add_sub
from mlinfer.samples.writer import write_model
from tests.support.servers import ServerThread, settings_for
from tests.support.slow_model import slow_model


def simple_variant(op: str = "Add") -> SampleModel:
    """Triton's ``simple`` interface; OUTPUT0 = INPUT0 <op> INPUT1 tells versions apart."""
    g = GraphBuilder("simple")
    a = g.input("INPUT0", INT32, ["batch", 16])
    b = g.input("INPUT1", INT32, ["batch", 16])
    g.op(op, [a, b], "OUTPUT0")
    g.op("Sub", [a, b], "OUTPUT1")
    g.output("OUTPUT0", INT32, ["batch", 16])
    g.output("OUTPUT1", INT32, ["batch", 16])
    return SampleModel("simple", g.model(), simple_add_sub().config, {})


def looped(name: str, iterations: int) -> SampleModel:
    """Same interface at any speed: a canary can be made slow on purpose."""
    model = slow_model(name, iterations)
    # Batching queues would blur latencies; one request at a time is what analysis sees.
    config = model.config.replace(
        "dynamic_batching { priority_levels: 2 default_priority_level: 2 }\n", ""
    )
    return SampleModel(name, model.onnx_model, config, {})


def onnx_bytes(model: SampleModel) -> bytes:
    return model.onnx_model.SerializeToString(deterministic=True)


def registry_settings(root: Path, **overrides: Any) -> RegistrySettings:
    base: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": 0,
        "database_url": f"sqlite:///{root}/registry.db",
        "artifact_dir": root / "artifacts",
        "policy_cache": root / "policies.json",
        "drain_seconds": 0.2,
        "converge_timeout_seconds": 5.0,
        "rollout_tick_seconds": 0.1,
        "poll_wait_seconds": 5.0,
        "retry_seconds": 0.1,
    }
    base.update(overrides)
    return RegistrySettings(**base)


def serving_repository(root: Path, model: SampleModel | None = None) -> Path:
    repo = root / "repo"
    repo.mkdir(parents=True, exist_ok=True)
    write_model(model or simple_variant("Add"), repo)
    return repo


def embedded(repo: Path, settings: RegistrySettings, *, grpc: bool = False) -> ServerThread:
    """``mlinfer serve`` with the registry in-process (SQLite + local artifacts)."""
    return ServerThread(
        settings_for(repo),
        rest=True,
        grpc=grpc,
        registry_settings=settings.model_copy(update={"embedded": True}),
    )


class RegistryClient:
    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.http = httpx.Client(base_url=url, headers=headers or {}, timeout=120)

    def close(self) -> None:
        self.http.close()

    def push(
        self, model: SampleModel, *, name: str | None = None, data: bytes | None = None, **form: str
    ) -> httpx.Response:
        fields = {"config": model.config, "format": "onnx", **form}
        files = {"artifact": ("model.onnx", data if data is not None else onnx_bytes(model))}
        return self.http.post(f"/v1/models/{name or model.name}/versions", data=fields, files=files)

    def deploy(self, model: str, version: str, **body: Any) -> httpx.Response:
        return self.http.post(f"/v1/models/{model}/deploy", json={"version": version, **body})

    def split(self, model: str, arms: dict[str, int], sticky: str | None = None) -> httpx.Response:
        return self.http.put(f"/v1/models/{model}/traffic", json={"arms": arms, "sticky": sticky})

    def canary(self, model: str, version: str, **body: Any) -> httpx.Response:
        return self.http.post(f"/v1/models/{model}/canary", json={"version": version, **body})

    def status(self, model: str) -> dict[str, Any]:
        response = self.http.get(f"/v1/models/{model}/status")
        response.raise_for_status()
        return dict(response.json())

    def audit(self, model: str) -> list[dict[str, Any]]:
        response = self.http.get("/v1/audit", params={"model": model})
        response.raise_for_status()
        return list(response.json())


# Canary tests: loop iterations of ``looped`` (well under a millisecond vs ~15 ms here)
# and the analysis they run with.
# Loop iterations: well under a millisecond vs ~350 ms idle here. The gap must outlast the
# p99 a fully loaded 2-core machine gives the fast arm, or a slow canary passes: over 8-15
# requests a p99 is the slowest one, and with every core taken the fast arm's once reached
# 1/1.5 of a ~70 ms slow arm (the panel's canary was promoted).
FAST, SLOW = 10, 150_000
ANALYSIS = {"min_requests": 15, "threshold": 2, "max_p99_factor": 2.0, "p99_slack_ms": 2.0}
# Same code on both arms: only scheduling noise tells them apart. A p99 over ~15 requests is
# their slowest one, and on a loaded 2-core CI box one stall (a GC, the canary's first run)
# failed even a 3x + 10 ms comparison three times in one rollout. So the good-canary tests
# judge success rate and an absolute p99 bound only; the baseline comparison is what the
# slow-canary test and the unit tests of ``judge`` exercise.
TOLERANT = {**ANALYSIS, "max_p99_factor": None, "max_p99_ms": 2000.0, "threshold": 3}
LOOPED_BODY = {
    "inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 4], "data": [1, 2, 3, 4]}]
}
SIMPLE_BODY = {
    "inputs": [
        {"name": "INPUT0", "datatype": "INT32", "shape": [1, 16], "data": list(range(16))},
        {"name": "INPUT1", "datatype": "INT32", "shape": [1, 16], "data": [1] * 16},
    ]
}
WORKERS = 16  # closed-loop clients per protocol in SwapLoad


class Load:
    """Requests in a loop until stopped (or a safety count); counts versions and failures."""

    def __init__(self, url: str, limit: int = 20_000) -> None:
        self.versions: Counter[str] = Counter()
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._limit = limit
        self._thread = threading.Thread(target=self._run, args=(url,), daemon=True)

    def _run(self, url: str) -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            for _ in range(self._limit):
                if self._stop.is_set():
                    return
                response = http.post("/v2/models/m/infer", json=LOOPED_BODY)
                if response.status_code != 200:
                    self.failures.append(response.text)
                else:
                    self.versions[response.json()["model_version"]] += 1

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class SwapLoad:
    """Closed-loop clients on their own event loop until told to stop."""

    def __init__(self, http: str, grpc: str) -> None:
        self.ok: Counter[str] = Counter()
        self.failures: list[str] = []
        self._http, self._grpc = http, grpc
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        async with httpx.AsyncClient(base_url=f"http://{self._http}", timeout=60) as http:
            client = grpcaio.InferenceServerClient(self._grpc)
            try:
                await asyncio.gather(
                    *(self._rest(http) for _ in range(WORKERS)),
                    *(self._grpc_worker(client) for _ in range(WORKERS)),
                )
            finally:
                await client.close()

    async def _rest(self, http: httpx.AsyncClient) -> None:
        while not self._stop.is_set():
            response = await http.post("/v2/models/simple/infer", json=SIMPLE_BODY)
            if response.status_code == 200:
                self.ok["http/" + response.json()["model_version"]] += 1
            else:
                self.failures.append(f"http {response.status_code}: {response.text}")

    async def _grpc_worker(self, client: grpcaio.InferenceServerClient) -> None:
        inputs = [InferInput("INPUT0", [1, 16], "INT32"), InferInput("INPUT1", [1, 16], "INT32")]
        inputs[0].set_data_from_numpy(np.arange(16, dtype=np.int32).reshape(1, 16))
        inputs[1].set_data_from_numpy(np.ones((1, 16), dtype=np.int32))
        while not self._stop.is_set():
            try:
                result = await client.infer("simple", inputs)
                self.ok["grpc/" + result.get_response().model_version] += 1
            except Exception as exc:  # counted, never hidden
                self.failures.append(f"grpc: {exc}")

    def total(self) -> int:
        return sum(self.ok.values())

    def __enter__(self) -> SwapLoad:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def error_of(response: httpx.Response) -> str:
    return str(json.loads(response.text).get("error", ""))
