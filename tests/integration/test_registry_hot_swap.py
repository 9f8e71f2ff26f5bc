"""10 consecutive deploys under concurrency-32 load (16 REST + 16 gRPC clients): the test
counts every request, and none may fail."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from pathlib import Path

import httpx
import numpy as np
import tritonclient.grpc.aio as grpcaio
from tritonclient.grpc import InferInput

from tests.support.registry import (
    RegistryClient,
    embedded,
    registry_settings,
    serving_repository,
    simple_variant,
)

BODY = {
    "inputs": [
        {"name": "INPUT0", "datatype": "INT32", "shape": [1, 16], "data": list(range(16))},
        {"name": "INPUT1", "datatype": "INT32", "shape": [1, 16], "data": [1] * 16},
    ]
}
WORKERS = 16  # per protocol


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
            response = await http.post("/v2/models/simple/infer", json=BODY)
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


def test_ten_deploys_under_load_fail_no_request(tmp_path: Path) -> None:
    repo = serving_repository(tmp_path)
    with embedded(repo, registry_settings(tmp_path / "registry"), grpc=True) as srv:
        registry = RegistryClient(srv.server.registry_server.url)  # type: ignore[union-attr]
        try:
            assert registry.push(simple_variant("Add")).status_code == 201
            assert registry.push(simple_variant("Sub")).status_code == 201
            with SwapLoad(srv.http, srv.grpc) as load:
                from tests.support.servers import wait_until

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
