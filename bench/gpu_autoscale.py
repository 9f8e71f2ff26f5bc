"""GPU-driven autoscaling on a real GPU, for docs/AUTOSCALING.md.

One `mlinfer serve` with a GPU-bound TorchScript model (KIND_GPU, one instance to start),
the exporter's NVML collector in this process, and the autoscaler stepping once a second
with queue time and panic switched off, so GPU utilization is the only signal that can add
an instance. A load step (c=16 for ``--busy`` seconds), then no load for ``--idle`` seconds:
the timeline shows each decision with the utilization the exporter reported.

    PYTHONPATH=services:. python3 bench/gpu_autoscale.py --out OUT_DIR   # needs a CUDA GPU
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import torch
from prometheus_client import CollectorRegistry
from torch import nn

from mlinfer.autoscaler.service import Autoscaler, make_client
from mlinfer.autoscaler.settings import AutoscalerSettings
from mlinfer.bench.loadgen import LoadConfig, run_load
from mlinfer.exporter.service import ExporterServer
from mlinfer.exporter.settings import ExporterSettings

MODEL = "gpu_heavy"
WIDTH, DEPTH, EXPAND = 4096, 16, 256  # ~137 GFLOP per request: milliseconds of GPU each

CONFIG = f"""name: "{MODEL}"
platform: "pytorch_libtorch"
max_batch_size: 8
input [ {{ name: "INPUT__0" data_type: TYPE_FP32 dims: [ {WIDTH} ] }} ]
output [ {{ name: "OUTPUT__0" data_type: TYPE_FP32 dims: [ {WIDTH} ] }} ]
instance_group [ {{ count: 1 kind: KIND_GPU gpus: [ 0 ] }} ]
dynamic_batching {{ max_queue_delay_microseconds: 500 }}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class GpuHeavy(nn.Module):  # type: ignore[misc]  # torch is untyped here
    """Each row is widened to EXPAND rows and pushed through DEPTH square layers."""

    def __init__(self) -> None:
        super().__init__()
        self.width, self.depth, self.expand = WIDTH, DEPTH, EXPAND
        g = torch.Generator().manual_seed(0)
        self.weights = nn.Parameter(
            torch.randn(DEPTH, WIDTH, WIDTH, generator=g) / WIDTH**0.5, requires_grad=False
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch = x.shape[0]
        y = x.unsqueeze(1).expand(batch, self.expand, self.width)
        y = y.reshape(batch * self.expand, self.width)
        for i in range(self.depth):
            y = torch.tanh(y @ self.weights[i])
        return y.reshape(batch, self.expand, self.width).mean(dim=1)


def write_model(repo: Path) -> None:
    (repo / MODEL / "1").mkdir(parents=True)
    torch.jit.save(torch.jit.script(GpuHeavy()), str(repo / MODEL / "1" / "model.pt"))
    (repo / MODEL / "config.pbtxt").write_text(CONFIG)


def serve(repo: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlinfer", "serve", "--host", "127.0.0.1",
         "--http-port", str(port), "--grpc-port", str(_free_port()),
         "--model-repository", str(repo), "--model-control-mode", "explicit",
         "--load-model", MODEL],
        env={**os.environ, "MLINFER_LOG_LEVEL": "WARNING", "MLINFER_AUTH_MODE": "disabled",
             "MLINFER_CACHE_BACKEND": "off"},
    )  # fmt: skip
    url = f"127.0.0.1:{port}"
    for _ in range(1200):
        try:
            if httpx.get(f"http://{url}/v2/models/{MODEL}/ready", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"mlinfer serve exited with {proc.returncode}")
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("mlinfer serve did not become ready")


async def timeline(
    url: str, exporter_url: str, busy_s: float, idle_s: float
) -> list[dict[str, Any]]:
    settings = AutoscalerSettings(
        server_url=f"http://{url}",
        exporter_url=exporter_url,
        models=[MODEL],
        interval_seconds=1.0,
        stable_window_s=3.0,
        cooldown_up_s=4.0,
        cooldown_down_s=8.0,
        max_instances=4,
        queue_time_target_us=1e12,  # off: GPU utilization alone may scale up
        panic_min_pending=1_000_000,  # off
        request_timeout_seconds=300.0,
    )
    load = threading.Thread(
        target=run_load,
        args=(LoadConfig(url=url, model=MODEL, concurrency=(16,), duration_s=busy_s,
                         warmup_s=0.0),),
        daemon=True,
    )  # fmt: skip
    rows: list[dict[str, Any]] = []
    async with make_client(settings) as client:
        scaler = await Autoscaler.create(settings, client, CollectorRegistry())
        start = time.monotonic()
        await scaler.step()
        load.start()
        while time.monotonic() - start < busy_s + idle_s:
            await asyncio.sleep(settings.interval_seconds)
            step = await scaler.step()
            for d in step.decisions:
                row = {
                    "t_s": round(time.monotonic() - start, 1),
                    "load": "c=16" if load.is_alive() else "none",
                    "utilization": d.signals.get("utilization"),
                    "pending": d.signals.get("pending"),
                    "requests_per_s": round(d.signals.get("request_rate", 0.0), 1),
                    "temperature_c": d.signals.get("temperature_c"),
                    "current": d.current,
                    "desired": d.desired,
                    "direction": d.direction,
                    "reason": d.reason,
                    "applied": step.applied.get(MODEL),
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
        load.join()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("."))
    parser.add_argument("--busy", type=float, default=40.0)
    parser.add_argument("--idle", type=float, default=30.0)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("needs a CUDA GPU visible to torch")
    exporter = ExporterServer(ExporterSettings(port=0, interval_seconds=0.5, collectors=["nvml"]))
    exporter.start()
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        write_model(repo)
        proc, url = serve(repo)
        try:
            rows = asyncio.run(
                timeline(url, f"http://127.0.0.1:{exporter.port}/metrics", args.busy, args.idle)
            )
        finally:
            proc.terminate()
            proc.wait(timeout=120)
            exporter.stop()
    args.out.mkdir(parents=True, exist_ok=True)
    doc = {"gpu": torch.cuda.get_device_name(0), "model": CONFIG, "timeline": rows}
    (args.out / "gpu-autoscale.json").write_text(json.dumps(doc, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
