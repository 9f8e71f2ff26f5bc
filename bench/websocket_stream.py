#!/usr/bin/env python3
"""Frames over one WebSocket stream vs requests over one HTTP keep-alive connection, on the
image_cnn sample (binary tensor layout both ways), then 8 streams vs 8 connections at once.

    python bench/websocket_stream.py [--frames 400]

Starts ``mlinfer serve`` (embedded engine) as a child process, measures everything in one
run, one mode after the other, and prints a Markdown table for docs/WEBSOCKET.md.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import struct
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _body() -> tuple[bytes, bytes]:
    """The binary tensor body (JSON header + raw FP32 image) and its header."""
    import numpy as np
    import orjson

    image = np.random.default_rng(0).random((1, 3, 32, 32), dtype=np.float32).tobytes()
    header = orjson.dumps(
        {
            "inputs": [
                {
                    "name": "image",
                    "datatype": "FP32",
                    "shape": [1, 3, 32, 32],
                    "parameters": {"binary_data_size": len(image)},
                }
            ],
            "outputs": [{"name": "probabilities", "parameters": {"binary_data": True}}],
        }
    )
    return header + image, header


Timed = Callable[[], Awaitable[None]]


async def _sequential(call: Timed, frames: int) -> list[float]:
    latencies = []
    for _ in range(frames):
        start = time.perf_counter()
        await call()
        latencies.append(time.perf_counter() - start)
    return latencies


async def _measure(
    streams: int, frames: int, make: Callable[[], Awaitable[Timed]]
) -> dict[str, float]:
    calls = [await make() for _ in range(streams)]
    for call in calls:  # warm-up
        await _sequential(call, 20)
    start = time.perf_counter()
    results = await asyncio.gather(*(_sequential(call, frames) for call in calls))
    elapsed = time.perf_counter() - start
    latencies = [x for r in results for x in r]
    return {
        "fps": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": statistics.quantiles(latencies, n=100)[98] * 1000,
    }


async def _run(url: str, frames: int) -> list[tuple[str, dict[str, float]]]:
    import httpx
    from websockets.asyncio.client import connect

    body, header = _body()
    frame = struct.pack("<I", len(header)) + body
    closers: list[Callable[[], Awaitable[None]]] = []

    async def http_call() -> Timed:
        client = httpx.AsyncClient(base_url=f"http://{url}", limits=httpx.Limits(max_connections=1))
        closers.append(client.aclose)
        headers = {"Inference-Header-Content-Length": str(len(header))}

        async def call() -> None:
            response = await client.post(
                "/v2/models/image_cnn/infer", content=body, headers=headers
            )
            response.raise_for_status()

        return call

    async def ws_call() -> Timed:
        ws = await connect(f"ws://{url}/v2/models/image_cnn/infer/ws")
        closers.append(ws.close)

        async def call() -> None:
            await ws.send(frame)
            answer = await ws.recv()
            assert isinstance(answer, bytes), answer

        return call

    rows = []
    for streams in (1, 8):
        rows.append((f"HTTP keep-alive x{streams}", await _measure(streams, frames, http_call)))
        rows.append((f"WebSocket x{streams}", await _measure(streams, frames, ws_call)))
    for close in closers:
        await close()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=400, help="frames per stream and mode")
    args = parser.parse_args()
    from mlinfer.samples.models import image_cnn
    from mlinfer.samples.writer import write_model
    from tests.support.servers import start_cli_server

    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "models"
        write_model(image_cnn(), repo)
        proc, url = start_cli_server(repo, env={"MLINFER_ACCESS_LOG": "false"})
        try:
            rows = asyncio.run(_run(url, args.frames))
        finally:
            proc.terminate()
            proc.wait()
    base = {r[0].split()[-1]: r[1]["fps"] for r in rows if r[0].startswith("HTTP")}
    print("| transport | frames/s | p50 ms | p99 ms | frames/s vs HTTP |")
    print("|---|---|---|---|---|")
    for name, r in rows:
        ratio = r["fps"] / base[name.split()[-1]]
        print(f"| {name} | {r['fps']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {ratio:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
