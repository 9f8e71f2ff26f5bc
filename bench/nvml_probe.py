"""Run the exporter's NVML collector for real on a GPU machine and print what it exposes.

Samples twice: idle, then while a torch matmul loop keeps the GPU busy (if torch is there),
so utilization, power, clocks and the per-process GPU memory of this process show real
values. Needs only nvidia-ml-py, psutil and prometheus-client (no mlinfer install):

    PYTHONPATH=services python3 bench/nvml_probe.py
"""

from __future__ import annotations

import sys
import threading
import time

from prometheus_client import CollectorRegistry, generate_latest

from mlinfer.exporter.nvml import NvmlCollector
from mlinfer.exporter.sampler import Sampler, render_triton_counters


def _busy(stop: threading.Event) -> None:
    try:
        import torch
    except ImportError:
        return
    a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    while not stop.is_set():
        for _ in range(20):
            a = (a @ a).clamp_(-1, 1)
        torch.cuda.synchronize()


def _show(sampler: Sampler, title: str) -> None:
    registry = CollectorRegistry()
    registry.register(sampler.collector())
    sampler.sample_once()
    text = generate_latest(registry).decode() + render_triton_counters(sampler)
    print(f"==== {title}")
    print("\n".join(line for line in text.splitlines() if not line.startswith("#")))


def main() -> int:
    collector = NvmlCollector(process_names=["python3", "python", "pt_main_thread"])
    sampler = Sampler([collector], interval_s=1.0)
    _show(sampler, "idle")
    stop = threading.Event()
    worker = threading.Thread(target=_busy, args=(stop,), daemon=True)
    worker.start()
    time.sleep(8)  # utilization is NVML's average over its last sample period
    _show(sampler, "under a bf16 matmul loop")
    stop.set()
    worker.join()
    state = sampler.snapshot()["nvml"]
    sampler.stop()
    return 0 if state.up else 1


if __name__ == "__main__":
    sys.exit(main())
