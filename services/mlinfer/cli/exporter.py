"""mlinfer exporter: device telemetry (NVML, tegrastats, sysfs, psutil) for Prometheus."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import Any


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "exporter",
        help="device telemetry on its own /metrics port (NVML, tegrastats, sysfs, psutil)",
        description=__doc__,
    )
    p.add_argument("--host", help="bind address (MLINFER_EXPORTER_HOST)")
    p.add_argument("--port", type=int, help="port, 0 = any free (MLINFER_EXPORTER_PORT)")
    p.add_argument("--interval", dest="interval_seconds", type=float, help="seconds per sample")
    p.add_argument(
        "--collector",
        dest="collectors",
        action="append",
        choices=["nvml", "tegrastats", "sysfs", "host"],
        help="collector to run (repeat; default: all, each optional)",
    )
    p.add_argument("--sysfs-root", type=Path, help="read /sys and /etc under this root")
    p.add_argument("--log-level", help="DEBUG, INFO, WARNING, ...")
    p.add_argument("--once", action="store_true", help="print one sample's metrics and exit")
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from mlinfer.exporter.service import ExporterServer
    from mlinfer.exporter.settings import ExporterSettings
    from mlinfer.observability.logs import configure_logging

    fields = ("host", "port", "interval_seconds", "collectors", "sysfs_root", "log_level")
    given = {f: getattr(args, f) for f in fields if getattr(args, f, None) is not None}
    try:
        settings = ExporterSettings(**given)
    except ValueError as exc:
        print(f"mlinfer exporter: invalid configuration: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    server = ExporterServer(settings)
    if args.once:
        server.sampler.sample_once()
        sys.stdout.write(server.render().decode())
        server.sampler.stop()
        return 0
    try:
        server.start()
    except OSError as exc:
        print(
            f"mlinfer exporter: cannot listen on {settings.host}:{settings.port}: {exc}",
            file=sys.stderr,
        )
        server.sampler.stop()
        return 2
    states = server.sampler.snapshot()
    summary = ", ".join(f"{n} {'up' if s.up else 'down'}" for n, s in states.items())
    print(f"mlinfer exporter: http://{settings.host}:{server.port}/metrics ({summary})", flush=True)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    server.stop()
    return 0
