"""``--workers N``: several processes serving the same REST and gRPC ports in front of Triton.

One Python process serves small requests at the rate one event loop allows. In front of
Triton the process holds no models, so more processes are cheap: this supervisor reserves
the ports, starts N copies of the same command (each binding the ports with SO_REUSEPORT,
so the kernel spreads connections over them), forwards SIGTERM/SIGINT to all of them and
stops them all when one dies, so that systemd restarts the service as a whole.

What is per worker (each is a full ``Server``): its DataPlane, admission limits, Triton
channel and in-memory cache; rate limits are shared only through Redis
(``MLINFER_RATELIMIT_REDIS_URL``), and ``/metrics`` answers for the worker that took the
scrape's connection, while ``/v2/models/stats`` comes from Triton and covers every worker.
The embedded engine would load every model in every worker and split dynamic batches
between them, and a hosted registry would run N times: both are refused.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from types import FrameType

from mlinfer.listeners.reuse_port import reuse_port_socket
from mlinfer.settings import Settings

log = logging.getLogger(__name__)


def refusal(settings: Settings, count: int) -> str | None:
    """Why ``count`` workers cannot serve with ``settings`` (None: they can)."""
    if count <= 1:
        return None
    if not settings.triton.url:
        return (
            f"--workers {count} needs a Triton backend (--triton HOST:PORT): the embedded "
            "engine would load every model in each worker"
        )
    if settings.registry.embedded:
        return f"--workers {count} cannot host the registry in-process: run `mlinfer registry`"
    return None


def serve_workers(
    argv: Sequence[str], settings: Settings, count: int, *, rest: bool, grpc: bool
) -> int:
    """Run ``count`` workers of ``mlinfer <argv>`` until a signal or one of them exits."""
    held: list[socket.socket] = []
    ports = {"--http-port": settings.http_port, "--grpc-port": settings.grpc.port}
    for flag, wanted in (("--http-port", rest), ("--grpc-port", grpc)):
        if wanted:  # port 0 is resolved once here, so every worker binds the same port
            held.append(reuse_port_socket(settings.host, ports[flag], listen=False))
            ports[flag] = held[-1].getsockname()[1]
    command = [sys.executable, "-m", "mlinfer", *argv]
    for flag, port in ports.items():
        command += [flag, str(port)]
    command += ["--workers", "1"]
    env = {**os.environ, "MLINFER_WORKERS_REUSE_PORT": "true", "MLINFER_WORKERS_COUNT": "1"}
    procs = [subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL) for _ in range(count)]
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    shown = {"REST": (rest, ports["--http-port"]), "gRPC": (grpc, ports["--grpc-port"])}
    endpoints = ", ".join(
        f"{name} {settings.host}:{port}" for name, (on, port) in shown.items() if on
    )
    print(f"mlinfer: {count} workers ({endpoints}), pids {[p.pid for p in procs]}", flush=True)
    try:
        return _supervise(procs, lambda: stopping, stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for sock in held:
            sock.close()


def _supervise(
    procs: list[subprocess.Popen[bytes]],
    stopping: Callable[[], bool],
    stop: Callable[[int, FrameType | None], None],
) -> int:
    """Wait for every worker; the first to exit on its own stops the others."""
    code = 0
    while any(p.poll() is None for p in procs):
        exited = [p for p in procs if p.returncode is not None]
        if exited and not stopping():
            first = exited[0]
            log.error("worker %d exited with %s: stopping the others", first.pid, first.returncode)
            code = first.returncode or 1
            stop(signal.SIGTERM, None)
        time.sleep(0.2)
    return code
