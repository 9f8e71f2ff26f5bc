"""Autoscaling benchmark on the embedded engine (image_cnn), for docs/AUTOSCALING.md.

1. Throughput and latency at c=32 with 1, 2 and 4 instances (set through the admin API).
2. Reaction time of the autoscaler to a load step (c=0 -> c=32): from the step to the
   decision, and from the decision to the new instance serving (the admin call returns
   once the instance is warmed and its worker takes work).

    .venv/bin/python bench/autoscale.py [--rounds 3] [--requests 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry

from mlinfer.autoscaler.service import Autoscaler, make_client
from mlinfer.autoscaler.settings import AutoscalerSettings
from mlinfer.bench.loadgen import LoadConfig, run_load
from mlinfer.samples.models import image_cnn
from mlinfer.samples.writer import write_repository

MODEL = "image_cnn"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(repo: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlinfer",
            "serve",
            "--host",
            "127.0.0.1",
            "--http-port",
            str(port),
            "--grpc-port",
            str(_free_port()),
            "--model-repository",
            str(repo),
            "--model-control-mode",
            "explicit",
            "--load-model",
            MODEL,
        ],
        env={
            **os.environ,
            "MLINFER_LOG_LEVEL": "WARNING",
            "MLINFER_AUTH_MODE": "disabled",
            "MLINFER_CACHE_BACKEND": "off",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"http://{url}/v2/models/{MODEL}/ready", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("mlinfer serve did not become ready")


def _set_instances(url: str, count: int) -> None:
    r = httpx.put(
        f"http://{url}/v2/admin/models/{MODEL}/instances", json={"instances": count}, timeout=300
    )
    r.raise_for_status()


def instances_table(url: str, requests: int) -> list[str]:
    rows = ["| instances | req/s (c=32) | p50 ms | p99 ms | errors |", "|---|---|---|---|---|"]
    for count in (1, 2, 4):
        _set_instances(url, count)
        [level] = run_load(
            LoadConfig(url=url, model=MODEL, concurrency=(32,), requests=requests, warmup_s=2.0)
        )
        lat = level.latency_ms
        rows.append(
            f"| {count} | {level.requests_per_s:.0f} | {lat['p50']:.1f} | "
            f"{lat['p99']:.1f} | {level.errors} |"
        )
        print(rows[-1], flush=True)
    return rows


async def _react(url: str) -> tuple[float, float]:
    """(step -> decision, decision -> serving) seconds for one load step."""
    settings = AutoscalerSettings(server_url=f"http://{url}", models=[MODEL], interval_seconds=0.5)
    async with make_client(settings) as client:
        scaler = await Autoscaler.create(settings, client, CollectorRegistry())
        await scaler.step()  # a baseline scrape before the step
        load = threading.Thread(
            target=run_load,
            args=(
                LoadConfig(url=url, model=MODEL, concurrency=(32,), duration_s=8.0, warmup_s=0.0),
            ),
            daemon=True,
        )
        step_at = time.monotonic()
        load.start()
        while True:
            await asyncio.sleep(settings.interval_seconds)
            decided_at = time.monotonic()
            step = await scaler.step()
            if step.applied:
                serving_at = time.monotonic()
                break
        load.join()
    return decided_at - step_at, serving_at - decided_at


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        write_repository(repo, [image_cnn])
        config = repo / MODEL / "config.pbtxt"
        config.write_text(config.read_text().replace("count: 2", "count: 1"))
        proc, url = _serve(repo)
        try:
            print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()}", flush=True)
            table = instances_table(url, args.requests)
            reactions = []
            for _ in range(args.rounds):
                _set_instances(url, 1)
                reactions.append(asyncio.run(_react(url)))
                print(
                    f"reaction: step->decision {reactions[-1][0]:.2f} s, "
                    f"decision->serving {reactions[-1][1]:.2f} s",
                    flush=True,
                )
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    print("\n".join(table))
    for detect, act in reactions:
        print(f"| {detect:.2f} | {act:.2f} | {detect + act:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
