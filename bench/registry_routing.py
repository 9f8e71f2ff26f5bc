#!/usr/bin/env python3
"""What routing through a traffic split costs per request on ``simple`` (in-process).

    python bench/registry_routing.py                 # 20 rounds x 2,000 requests per variant

One embedded engine, one DataPlane per variant, the same request: no router (baseline),
a router with a 90/10 split, a sticky split (header key, hashed per request), and the
per-version metric alone. Rounds interleave the variants in a rotating order so machine
noise hits them alike; the result is the median per-request time of each and the median
of its paired differences from the baseline, in microseconds of CPU time of the serving
thread (the target: a split adds <= 20 us).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from prometheus_client import CollectorRegistry

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "services"))

from mlinfer.backends.embedded.backend import EmbeddedBackend  # noqa: E402
from mlinfer.backends.settings import EngineSettings  # noqa: E402
from mlinfer.core.types import InferRequest, Tensor  # noqa: E402
from mlinfer.dataplane import DataPlane  # noqa: E402
from mlinfer.observability.metrics import GatewayMetrics  # noqa: E402
from mlinfer.registry.traffic import TrafficPolicy, TrafficRouter  # noqa: E402
from mlinfer.samples.models import simple_add_sub  # noqa: E402
from mlinfer.samples.writer import write_model  # noqa: E402


def _request(headers: dict[str, str]) -> InferRequest:
    a = np.arange(16, dtype=np.int32).reshape(1, 16)
    return InferRequest(
        "simple",
        [Tensor("INPUT0", "INT32", (1, 16), a), Tensor("INPUT1", "INT32", (1, 16), a)],
        route_headers=headers,
    )


async def _time(dataplane: DataPlane, n: int, headers: dict[str, str]) -> float:
    """CPU time of this thread per request: everything runs inline on it, and on a shared
    machine the wall clock mostly measures other processes."""
    start = time.thread_time()
    for i in range(n):
        if headers:
            headers["x-session-id"] = f"s{i % 997}"
        await dataplane.infer(_request(headers))
    return (time.thread_time() - start) / n * 1e6


async def main(rounds: int, n: int) -> None:
    repo = Path(tempfile.mkdtemp(prefix="bench-routing-"))
    write_model(simple_add_sub(), repo, 1)
    write_model(simple_add_sub(), repo, 2)
    (repo / "simple" / "config.pbtxt").write_text(
        simple_add_sub().config + "version_policy { all { } }\n"
    )
    # Always on the event loop: whether a version runs inline is otherwise decided by its
    # own measured batch times, which would differ between versions on a loaded machine.
    settings = EngineSettings(model_repository=repo, inline_execution_max_us=10**6)
    backend = EmbeddedBackend(settings)
    await backend.start()
    observe = GatewayMetrics(CollectorRegistry()).observe_version  # what the server uses
    split = TrafficRouter([TrafficPolicy("simple", {"1": 90, "2": 10})])
    sticky = TrafficRouter(
        [TrafficPolicy("simple", {"1": 90, "2": 10}, sticky="header:X-Session-ID")]
    )
    variants = {
        "no router": (DataPlane(backend), {}),
        "metric only": (DataPlane(backend, on_result=observe), {}),
        "split 90/10 + metric": (DataPlane(backend, traffic=split, on_result=observe), {}),
        "sticky split + metric": (
            DataPlane(backend, traffic=sticky, on_result=observe),
            {"x-session-id": ""},
        ),
    }
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for dataplane, headers in variants.values():
        await _time(dataplane, 200, dict(headers))  # warm-up
    names = list(variants)
    for round_ in range(rounds):
        # Rotate the order each round: no variant always runs right after another.
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            dataplane, headers = variants[name]
            samples[name].append(await _time(dataplane, n, dict(headers)))
    await backend.stop()
    base = samples["no router"]
    print(f"{'variant':<24} {'us/request':>11} {'added (median of paired rounds)':>32}")
    for name, values in samples.items():
        added = statistics.median(v - b for v, b in zip(values, base, strict=True))
        print(f"{name:<24} {statistics.median(values):>11.1f} {added:>+32.1f}")
    for label, router, headers in (
        ("90/10", split, {}),
        ("sticky 90/10", sticky, {"x-session-id": "user-42"}),
    ):
        start = time.thread_time()
        for _ in range(200_000):
            router.choose("simple", headers, "")
        per = (time.thread_time() - start) / 2e5 * 1e6
        print(f"TrafficRouter.choose alone ({label}): {per:.2f} us")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.requests))
