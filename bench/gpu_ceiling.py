"""In-process ceiling on the GPU: the engine's own TorchSession, no server in front.

For each model, one instance opened exactly as the server opens it (same config parameters:
FP16, one CUDA stream, pinned copies), once eager and once with CUDA graphs, then
``session.run`` back to back at each batch size with random inputs (three sets, rotated).
A run includes the host->device copy, the model and the device->host copy, as it does in
the server. Reported: median batch latency and items/s at that median.
"""

from __future__ import annotations

import gc
import itertools
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bench.torchscript_models import BERT_SEQUENCE, TorchBenchModel, config_text

VOCAB = 30522


def random_inputs(model: TorchBenchModel, batch: int, seed: int) -> dict[str, NDArray[Any]]:
    rng = np.random.default_rng(seed)
    if model.build == "resnet50":
        return {"image": rng.standard_normal((batch, 3, 224, 224), dtype=np.float32)}
    lengths = rng.integers(BERT_SEQUENCE // 2, BERT_SEQUENCE + 1, batch)
    mask = (np.arange(BERT_SEQUENCE)[None, :] < lengths[:, None]).astype(np.int64)
    return {
        "input_ids": rng.integers(0, VOCAB, (batch, BERT_SEQUENCE), dtype=np.int64),
        "attention_mask": mask,
        "token_type_ids": np.zeros((batch, BERT_SEQUENCE), dtype=np.int64),
    }


def measure(
    repo: Path,
    model: TorchBenchModel,
    batches: tuple[int, ...],
    seconds: float = 1.0,
    min_runs: int = 20,
    kind: str = "KIND_GPU",
) -> list[dict[str, Any]]:
    import torch

    from mlinfer.backends.embedded.torch_session import open_sessions
    from mlinfer.core.model_config import parse_config

    rows: list[dict[str, Any]] = []
    path = repo / model.name / "1" / "model.pt"
    sizes = ",".join(str(b) for b in batches)
    for mode in ("eager", "graph"):
        text = config_text(
            model, instances=1, graph_sizes=sizes, cuda_graphs=mode == "graph", kind=kind
        )
        t0 = time.perf_counter()
        session = open_sessions(parse_config(text), path)[0]
        load_s = time.perf_counter() - t0
        print(f"  {model.name} {mode}: loaded in {load_s:.1f}s", flush=True)
        for batch in batches:
            feeds = [random_inputs(model, batch, seed) for seed in range(3)]
            for i in range(3):
                session.run(feeds[i])
            times: list[float] = []
            end = time.perf_counter() + seconds
            while len(times) < min_runs or time.perf_counter() < end:
                start = time.perf_counter()
                session.run(feeds[len(times) % 3])
                times.append(time.perf_counter() - start)
            median = statistics.median(times)
            p99 = sorted(times)[int(0.99 * (len(times) - 1))]
            rows.append(
                {
                    "model": model.name,
                    "mode": mode,
                    "batch": batch,
                    "runs": len(times),
                    "latency_ms": round(median * 1e3, 3),
                    "p99_ms": round(p99 * 1e3, 3),
                    "infer_per_s": round(batch / median, 1),
                    "load_s": round(load_s, 1),
                }
            )
            print(
                f"    batch {batch:>3}: {median * 1e3:8.3f} ms  {batch / median:10.1f}/s",
                flush=True,
            )
        if mode == "graph":
            rows += _device_only(session, model, batches)
        session.close()
        del session
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    return rows


def _device_only(
    session: Any, model: TorchBenchModel, batches: tuple[int, ...]
) -> list[dict[str, Any]]:
    """Graph replay alone, CUDA events around it: the GPU's time, without the host's numpy
    copies. The graph includes its pinned-memory DMA copies (mode ``graph-dma``); results
    before that change timed the model alone (mode ``graph-device``)."""
    import torch

    rows = []
    for batch in batches:
        graph = session._graphs.get(batch)
        if graph is None:
            continue
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        times = []
        with torch.cuda.stream(session._stream):
            for i in range(23):
                start.record()
                graph.graph.replay()
                end.record()
                end.synchronize()
                if i >= 3:
                    times.append(start.elapsed_time(end) / 1e3)
        median = statistics.median(times)
        rows.append({"model": model.name, "mode": "graph-dma", "batch": batch,
                     "runs": len(times), "latency_ms": round(median * 1e3, 3),
                     "p99_ms": round(max(times) * 1e3, 3),
                     "infer_per_s": round(batch / median, 1)})  # fmt: skip
        print(f"    device-only batch {batch:>3}: {median * 1e3:8.3f} ms", flush=True)
    return rows


def at_batch(rows: list[dict[str, Any]], model: str, mode: str, batch: float) -> float | None:
    """Ceiling items/s at ``batch``, linear between the measured batch sizes."""
    points = sorted(
        (r["batch"], r["infer_per_s"]) for r in rows if (r["model"], r["mode"]) == (model, mode)
    )
    if not points:
        return None
    if batch <= points[0][0]:
        return float(points[0][1])
    for (b0, v0), (b1, v1) in itertools.pairwise(points):
        if b0 <= batch <= b1:
            return float(v0 + (v1 - v0) * (batch - b0) / (b1 - b0))
    return float(points[-1][1])
