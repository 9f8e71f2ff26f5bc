"""The ceiling: raw ONNX Runtime ``session.run`` throughput for a repository model.

Same model file, same thread settings as the server would use (one session per configured
instance, ``intra_op_thread_count`` / ``inter_op_thread_count`` / ``allow_spinning`` from
config.pbtxt, one Python thread per session calling ``run`` back to back), swept over batch
sizes; the best one is the
ceiling a server in front of that engine can approach. Run it in its own process
(``python -m bench.ceiling MODEL_DIR``) so nothing else competes for the CPU.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mlinfer.backends.embedded.onnx_session import SPINNING_PARAMETER, spinning_by_default
from mlinfer.bench.inputs import random_tensor
from mlinfer.core.model_config import boolean_parameter

_ORT_TO_TRITON = {
    "tensor(float)": "FP32",
    "tensor(float16)": "FP16",
    "tensor(double)": "FP64",
    "tensor(int64)": "INT64",
    "tensor(int32)": "INT32",
    "tensor(int16)": "INT16",
    "tensor(int8)": "INT8",
    "tensor(uint8)": "UINT8",
    "tensor(bool)": "BOOL",
}


@dataclass(frozen=True)
class CeilingPoint:
    batch_size: int
    infer_per_s: float
    batch_latency_ms: float
    """Mean time of one ``run`` call."""


@dataclass(frozen=True)
class Ceiling:
    model: str
    instances: int
    intra_op_threads: int
    points: list[CeilingPoint]

    @property
    def best(self) -> CeilingPoint:
        return max(self.points, key=lambda p: p.infer_per_s)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["best"] = asdict(self.best)
        return out


def _feeds(session: Any, config: Any, batch: int) -> dict[str, NDArray[Any]]:
    rng = np.random.default_rng(0)
    dims = {t.name: [int(d) for d in t.dims] for t in config.input}
    feeds = {}
    for node in session.get_inputs():
        inner = dims.get(node.name) or [d if isinstance(d, int) else 1 for d in node.shape[1:]]
        shape = (batch, *inner) if config.max_batch_size > 0 else tuple(inner)
        feeds[node.name] = random_tensor(_ORT_TO_TRITON[node.type], shape, rng, (0, 2))
    return feeds


def measure(
    model_dir: Path,
    batch_sizes: list[int],
    seconds: float = 5.0,
    warmup_runs: int = 2,
    version: str = "1",
) -> Ceiling:
    """Sweep ``batch_sizes`` (those above max_batch_size are skipped)."""
    import onnxruntime as ort

    from tests.support.triton.python_backend import load_model_config

    config = load_model_config(model_dir / "config.pbtxt")
    groups = list(config.instance_group)
    instances = sum(g.count or 1 for g in groups) if groups else 1
    params = {k: v.string_value for k, v in config.parameters.items()}
    intra = int(params.get("intra_op_thread_count", "0") or 0)
    inter = int(params.get("inter_op_thread_count", "0") or 0)
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra
    options.inter_op_num_threads = inter
    spinning = boolean_parameter(config, SPINNING_PARAMETER, spinning_by_default(config, intra))
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    path = str(model_dir / version / "model.onnx")
    sessions = [
        ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        for _ in range(instances)
    ]
    if config.max_batch_size > 0:
        batch_sizes = [b for b in batch_sizes if b <= config.max_batch_size]
    else:
        batch_sizes = [1]
    points = []
    for batch in batch_sizes:
        feeds = _feeds(sessions[0], config, batch)
        for session in sessions:
            for _ in range(warmup_runs):
                session.run(None, feeds)
        runs, elapsed = _run_concurrently(sessions, feeds, seconds)
        points.append(
            CeilingPoint(
                batch_size=batch,
                infer_per_s=runs * batch / elapsed,
                batch_latency_ms=elapsed * len(sessions) / max(runs, 1) * 1000,
            )
        )
    return Ceiling(config.name or model_dir.name, instances, intra, points)


def _run_concurrently(
    sessions: list[Any], feeds: dict[str, Any], seconds: float
) -> tuple[int, float]:
    """One thread per session calling ``run`` back to back for ``seconds``: (runs, elapsed)."""
    counts = [0] * len(sessions)
    deadline = time.perf_counter() + seconds

    def loop(index: int) -> None:
        session = sessions[index]
        while time.perf_counter() < deadline:
            session.run(None, feeds)
            counts[index] += 1

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(len(sessions))]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts), time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path, help="repository model folder (config.pbtxt)")
    parser.add_argument("--batches", default="1,2,4,8,16,32", help="batch sizes to sweep")
    parser.add_argument("--seconds", type=float, default=5.0, help="per batch size")
    args = parser.parse_args(argv)
    batches = [int(b) for b in args.batches.split(",")]
    result = measure(args.model_dir, batches, args.seconds)
    json.dump(result.as_dict(), sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
