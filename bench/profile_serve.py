#!/usr/bin/env python3
"""Profile ``mlinfer serve`` under load with py-spy and print where its CPU time goes.

    pip install py-spy
    python bench/profile_serve.py --protocol http            # tiny model, HTTP binary, c=8
    python bench/profile_serve.py --protocol grpc --concurrency 1
    python bench/profile_serve.py --model custom_cnn --protocol http

Starts ``mlinfer serve`` on bench/repository/onnx (``python bench/run.py --sections build``
makes it), drives it with perf_analyzer, records the server with ``py-spy record`` (raw
folded stacks: bench/results/profile-<model>-<protocol>-c<N>.txt, for flamegraph.pl)
and prints the functions with the most samples, self and inclusive, as % of the samples in
which a server thread held the GIL (the Python work that one core has to do serially).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `bench` and `tests.support` are packages of the checkout


def summarize(folded: Path, top: int = 25) -> str:
    """Self and inclusive sample shares per function from py-spy's raw (folded) output."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in folded.read_text(encoding="utf-8").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [
            re.sub(r"\(.*?(site-packages|lib/python3\.\d+)/", "(", f) for f in stack.split(";")
        ]
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    if not total:
        return "no samples"
    lines = [f"{total} samples", "", "self:"]
    lines += [f"{100 * n / total:5.1f}%  {f}" for f, n in own.most_common(top)]
    lines += ["", "inclusive:"]
    lines += [f"{100 * n / total:5.1f}%  {f}" for f, n in inclusive.most_common(top)]
    return "\n".join(lines)


@contextlib.contextmanager
def _triton(repository: Path, model: str, out: Path) -> Iterator[tuple[str, str]]:
    """Triton (nvidia-pytriton's, Python backend) serving ``model``; yields its gRPC and
    HTTP addresses."""
    from tests.support.triton.python_backend import write_python_backend_repository
    from tests.support.triton.server_process import TritonServerProcess

    pyrepo = repository.parent / "triton-profile"
    if pyrepo.exists():
        shutil.rmtree(pyrepo)
    write_python_backend_repository(repository, pyrepo, [model])
    triton = TritonServerProcess(
        pyrepo, model_control_mode="explicit", load_models=[model], log_path=out / "triton.log"
    )
    with triton:
        triton.wait_ready(models=[model])
        yield triton.grpc_url, triton.http_url


def main(argv: list[str] | None = None) -> int:
    from bench.servers import MlinferProcess, wait_http_ready
    from tests.support.triton.perf_analyzer import run_perf_analyzer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="simple")
    parser.add_argument("--protocol", choices=["http", "grpc"], default="http")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--repository", type=Path, default=ROOT / "bench" / "repository" / "onnx")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--native", action="store_true", help="py-spy --native (C frames too)")
    parser.add_argument(
        "--all-threads",
        action="store_true",
        help="sample every thread, not only the one holding the GIL (py-spy --gil is the "
        "default: the server's Python work is what the GIL serializes)",
    )
    parser.add_argument(
        "--triton",
        action="store_true",
        help="profile mlinfer in front of a real Triton (python-backend twin of the model)",
    )
    parser.add_argument(
        "--passthrough",
        action="store_true",
        help="with --triton: REST inferences forwarded to Triton's HTTP endpoint (--triton-http)",
    )
    parser.add_argument("--json", action="store_true", help="HTTP JSON tensors, not binary")
    args = parser.parse_args(argv)
    args.repository = args.repository.resolve()  # the server runs in another directory

    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(py_spy).exists():
        parser.error("py-spy not found: pip install py-spy")
    args.out.mkdir(parents=True, exist_ok=True)
    front = "-front" if args.triton else ""
    stem = args.out / f"profile{front}-{args.model}-{args.protocol}-c{args.concurrency}"
    log = args.out / f"{stem.name}-server.log"
    with contextlib.ExitStack() as stack:
        if args.triton:
            grpc_url, http_url = stack.enter_context(_triton(args.repository, args.model, args.out))
            front_args = ["--triton", grpc_url]
            if args.passthrough:
                front_args += ["--triton-http", http_url]
            server = MlinferProcess(args.repository, [], log, extra_args=front_args)
        else:
            server = MlinferProcess(args.repository, [args.model], log)
        stack.enter_context(server)
        if args.triton:
            wait_http_ready(f"http://{server.http_url}", [args.model], server.proc, 120, "front")
        url = server.grpc_url if args.protocol == "grpc" else server.http_url
        load: dict[str, object] = {}

        def drive() -> None:
            try:
                load["result"] = run_perf_analyzer(
                    args.model,
                    url,
                    args.protocol,
                    args.concurrency,
                    measurement_interval_ms=(args.seconds + 4) * 1000 // 3,
                    stability_percentage=100,
                    max_trials=3,
                    extra_args=(
                        ["--input-tensor-format=json", "--output-tensor-format=json"]
                        if args.json
                        else None
                    ),
                )
            except Exception as exc:  # printed below; the profile is still useful
                load["error"] = exc

        thread = threading.Thread(target=drive)
        thread.start()
        base = [py_spy, "record", "--pid", str(server.pid), "-r", str(args.rate)]
        base += ["-d", str(args.seconds)]
        # --native needs to pause the process for each sample; otherwise do not perturb it
        base += ["--native"] if args.native else ["--nonblocking"]
        base += [] if args.all_threads else ["--gil"]
        subprocess.run([*base, "-f", "raw", "-o", f"{stem}.txt"], check=True)
        thread.join()
    result = load.get("result")
    if result is not None:
        row = result.rows[0]  # type: ignore[attr-defined]
        print(f"load: {row.throughput:.1f} infer/s, p50 {row.p50_us} us (perf_analyzer)")
    else:
        print(f"load failed: {load.get('error')}")
    print(summarize(Path(f"{stem}.txt")))
    print(f"\nfolded stacks: {stem}.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
