"""The GPU benchmark, in one process per call of the device machine.

    python -m bench.gpu_run --out DIR [--models resnet50_torch,bert_torch] [--steps ...]

Steps: ``build`` (TorchScript repository), ``ceiling`` (in-process, eager and CUDA graph),
``serve`` (mlinfer + perf_analyzer over HTTP and gRPC, batching on and off), ``profile``
(py-spy on the server under load). Every result is written to ``DIR/h200-<step>.json`` as
soon as it exists, so a run cut short keeps what it measured.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

from bench import gpu_ceiling, gpu_serve
from bench.torchscript_models import MODELS, NOBATCH, write_repository

CEILING_BATCHES = (1, 8, 32, 128, 256)


def machine() -> dict[str, Any]:
    import torch

    query = ["nvidia-smi", "--format=csv,noheader",
             "--query-gpu=name,driver_version,memory.total,clocks.max.sm,power.limit"]  # fmt: skip
    try:
        gpu = subprocess.run(query, capture_output=True, text=True, check=False).stdout.strip()
    except FileNotFoundError:
        gpu = "none (no nvidia-smi)"
    return {
        "gpu": gpu,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--repository", type=Path, default=Path("/tmp/gpu-models"))
    parser.add_argument("--models", default=",".join(m.name for m in MODELS))
    parser.add_argument("--steps", default="build,ceiling,serve,profile")
    parser.add_argument("--concurrency", default="1,16,64,256")
    parser.add_argument("--protocols", default="grpc,http")
    parser.add_argument("--interval-ms", type=int, default=2000)
    parser.add_argument("--profile-model", default="resnet50_torch")
    parser.add_argument("--ceiling-batches", default=",".join(map(str, CEILING_BATCHES)))
    parser.add_argument("--kind", default="KIND_GPU", help="KIND_CPU: a smoke run without GPU")
    parser.add_argument("--tiny", action="store_true", help="shrunken models (smoke runs)")
    parser.add_argument("--switch-interval", type=float, default=0.0, help="GIL switch, s")
    parser.add_argument("--levels", default="", help="e.g. grpc:on:1,grpc:off:64 (overrides)")
    parser.add_argument("--tag", default="", help="suffix of the result file names")
    args = parser.parse_args()
    steps = set(args.steps.split(","))
    models = [m for m in MODELS if m.name in args.models.split(",")]
    args.out.mkdir(parents=True, exist_ok=True)

    def save(step: str, data: Any) -> None:
        (args.out / f"h200-{step}{args.tag}.json").write_text(json.dumps(data, indent=1))

    info = machine()
    print(json.dumps(info), flush=True)
    if "build" in steps:
        t0 = time.perf_counter()
        write_repository(args.repository, tuple(models), args.kind, args.tiny)
        info["build_s"] = round(time.perf_counter() - t0, 1)
    save("machine", info)

    if "ceiling" in steps:
        rows: list[dict[str, Any]] = []
        for model in models:
            print(f"ceiling {model.name}", flush=True)
            batches = tuple(int(b) for b in args.ceiling_batches.split(","))
            rows += gpu_ceiling.measure(args.repository, model, batches, kind=args.kind)
            save("ceiling", {"command": "python -m bench.gpu_run --steps ceiling", "rows": rows})

    if "serve" in steps or "profile" in steps:
        print(f"serve: GIL switch interval {args.switch_interval or 'default'}", flush=True)
        sampler = gpu_serve.GpuSampler()
        concurrencies = [int(c) for c in args.concurrency.split(",")]
        for model in models:
            log = args.out / f"server-{model.name}{args.tag}.log"
            server = gpu_serve.Server(
                args.repository, [model.name, model.name + NOBATCH], log, args.switch_interval
            )
            t0 = time.perf_counter()
            with server:
                load_s = round(time.perf_counter() - t0, 1)
                print(
                    f"serve {model.name} (ready in {load_s}s): {' '.join(server.command)}",
                    flush=True,
                )
                data = gpu_serve.perf_input_file(model, args.out)
                if "serve" in steps:
                    levels = [
                        (p, "on", c) for p in args.protocols.split(",") for c in concurrencies
                    ]
                    levels += [(p, "off", 64) for p in args.protocols.split(",")]
                    if args.levels:
                        levels = [
                            (p, b, int(c))
                            for p, b, c in (lv.split(":") for lv in args.levels.split(","))
                        ]
                    rows = gpu_serve.sweep(server, model, levels, data, sampler, args.interval_ms)
                    for r in rows:
                        r["server_command"] = "mlinfer " + " ".join(server.command[3:])
                        r["server_ready_s"] = load_s
                        r["switch_interval_s"] = args.switch_interval or 0.005
                    save(f"serve-{model.name}", {"rows": rows})
                if "profile" in steps and model.name == args.profile_model:
                    print("profile: grpc c=64 under py-spy", flush=True)
                    import threading

                    load = threading.Thread(
                        target=gpu_serve.sweep,
                        args=(server, model, [("grpc", "on", 64)], data, sampler, 4000),
                    )
                    load.start()
                    time.sleep(3)
                    prof = gpu_serve.profile(server, 8, args.out / "h200-profile-raw")
                    load.join()
                    save("profile", prof)
                    for name, pct in prof.get("self_pct", [])[:15]:
                        print(f"    {pct:5.1f}%  {name}", flush=True)


if __name__ == "__main__":
    main()
