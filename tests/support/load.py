"""A closed-loop load generator whose concurrency a test can step (c=1 -> c=32 -> c=1)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import httpx
import numpy as np

Body = tuple[bytes, dict[str, str]]


def fp32_body(name: str, shape: tuple[int, ...], value: float = 0.5) -> Body:
    """One binary-extension request with one FP32 input (outputs as binary too)."""
    data = np.full(shape, value, dtype=np.float32).tobytes()
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": name,
                    "shape": list(shape),
                    "datatype": "FP32",
                    "parameters": {"binary_data_size": len(data)},
                }
            ],
            "parameters": {"binary_data_output": True},
        }
    ).encode()
    return header + data, {"Inference-Header-Content-Length": str(len(header))}


class SteppedLoad:
    """``workers`` clients; only the first ``concurrency`` send. Every outcome is counted."""

    def __init__(self, base_url: str, model: str, body: Body, workers: int = 32) -> None:
        self._body = body  # built once: the client's CPU goes to sending
        # Idle connections expire before uvicorn's 5 s keep-alive closes them: a request sent
        # on a connection the server is closing would fail for the client, not the server.
        limits = httpx.Limits(max_connections=workers, keepalive_expiry=2.0)
        self._client = httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits)
        self._path = f"/v2/models/{model}/infer"
        self._workers = workers
        self._concurrency = 0
        self._changed = asyncio.Condition()
        self._stop = False
        self._tasks: list[asyncio.Task[None]] = []
        self.outcomes: Counter[str] = Counter()  # "200", "503", "ConnectError", ...

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._worker(i)) for i in range(self._workers)]

    async def set_concurrency(self, concurrency: int) -> None:
        async with self._changed:
            self._concurrency = concurrency
            self._changed.notify_all()

    @property
    def failed(self) -> int:
        return sum(n for outcome, n in self.outcomes.items() if outcome != "200")

    async def _worker(self, index: int) -> None:
        body, headers = self._body
        while True:
            async with self._changed:
                await self._changed.wait_for(lambda: self._stop or index < self._concurrency)
            if self._stop:
                return
            try:
                response = await self._client.post(self._path, content=body, headers=headers)
                self.outcomes[str(response.status_code)] += 1
            except httpx.HTTPError as exc:
                self.outcomes[type(exc).__name__] += 1

    async def stop(self) -> None:
        async with self._changed:
            self._stop = True
            self._changed.notify_all()
        await asyncio.gather(*self._tasks)
        await self._client.aclose()
