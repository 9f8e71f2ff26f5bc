"""mlinfer autoscaler: scale model instances with load, GPU use and temperature."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import time
from pathlib import Path
from typing import Any

_OPTIONS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    (
        "--server-url",
        "server_url",
        {"help": "REST URL of the server (MLINFER_AUTOSCALER_SERVER_URL)"},
    ),
    (
        "--actuator",
        "actuator",
        {
            "choices": ["embedded", "triton"],
            "help": "embedded: mlinfer admin API; triton: config override",
        },
    ),
    ("--metrics-url", "metrics_url", {"help": "server /metrics (default: server URL + /metrics)"}),
    ("--exporter-url", "exporter_url", {"help": "exporter /metrics (GPU, temperature, memory)"}),
    ("--model", "models", {"action": "append", "help": "model to manage (repeat; default: all)"}),
    ("--config", "config_file", {"type": Path, "help": "YAML file of per-model overrides"}),
    ("--interval", "interval_seconds", {"type": float, "help": "seconds between decisions"}),
    ("--port", "port", {"type": int, "help": "port of the autoscaler's own /metrics"}),
    ("--log-level", "log_level", {"help": "DEBUG shows every decision, INFO the changes"}),
)


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "autoscaler",
        help="scale model instances with queue time, GPU use and temperature",
        description=__doc__,
    )
    for flag, dest, kwargs in _OPTIONS:
        p.add_argument(flag, dest=dest, **kwargs)
    p.add_argument(
        "--dry-run",
        action="store_true",
        default=None,
        help="decide and report, never change instance counts",
    )
    p.add_argument("--once", action="store_true", help="one decision per model, printed; exit")
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from mlinfer.autoscaler.settings import AutoscalerSettings
    from mlinfer.observability.logs import configure_logging

    fields = {dest for _, dest, _ in _OPTIONS} | {"dry_run"}
    given = {f: getattr(args, f) for f in fields if getattr(args, f, None) is not None}
    try:
        settings = AutoscalerSettings(**given)
    except ValueError as exc:
        print(f"mlinfer autoscaler: invalid configuration: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    for noisy in ("httpx", "httpcore"):  # lines per scrape: noise next to the decisions
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return asyncio.run(_main(settings, once=args.once))


async def _main(settings: Any, *, once: bool) -> int:
    from prometheus_client import CollectorRegistry, start_http_server

    from mlinfer.autoscaler.config import AutoscalerConfigError
    from mlinfer.autoscaler.service import Autoscaler, ServerUnavailableError, make_client

    registry = CollectorRegistry()
    async with make_client(settings) as client:
        deadline = time.monotonic() + settings.startup_timeout_seconds
        while True:
            try:
                scaler = await Autoscaler.create(settings, client, registry)
                break
            except ServerUnavailableError as exc:
                if once or time.monotonic() >= deadline:
                    print(f"mlinfer autoscaler: {exc}", file=sys.stderr)
                    return 2
                await asyncio.sleep(settings.interval_seconds)  # the server may be starting
            except AutoscalerConfigError as exc:
                print(f"mlinfer autoscaler: {exc}", file=sys.stderr)
                return 2
        if once:
            step = await scaler.step()
            for d in step.decisions:
                print(f"{d.model}: {d.current} -> {d.desired} ({d.direction}, {d.reason})")
            return 0
        server, _ = start_http_server(settings.port, settings.host, registry)
        mode = " (dry run)" if settings.dry_run else ""
        print(
            f"mlinfer autoscaler{mode}: {', '.join(scaler.models)} on {settings.server_url} "
            f"via {settings.actuator}; metrics http://{settings.host}:{server.server_port}"
            "/metrics",
            flush=True,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await scaler.run(stop)
        finally:
            server.shutdown()
    return 0
