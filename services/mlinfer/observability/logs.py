"""Structured JSON logs (python-json-logger) and the one-line-per-request record."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from typing import Any

from pythonjsonlogger.json import JsonFormatter

ACCESS_LOGGER = "mlinfer.access"


def configure_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"levelname": "level", "asctime": "time", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_drop_terminal_colours)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def _drop_terminal_colours(record: logging.LogRecord) -> bool:
    # uvicorn attaches an ANSI-coloured copy of each message; it is noise in JSON lines.
    record.__dict__.pop("color_message", None)
    return True


def log_request(logger: logging.Logger, **fields: Any) -> None:
    """One line per inference request: id, model, version, status, latency, cache, identity."""
    logger.info("request", extra={k: v for k, v in fields.items() if v is not None})


def print_banner(lines: list[str], fmt: str, **fields: Any) -> None:
    """The start-up banner on stdout, shown whatever the log level: plain lines for humans,
    or in ``json`` format one record shaped like every other log line (so a log shipper
    never sees a line that is not JSON)."""
    if fmt != "json":
        print("\n".join(lines), flush=True)
        return
    record = {
        "time": dt.datetime.now().astimezone().isoformat(timespec="milliseconds"),
        "level": "INFO",
        "logger": "mlinfer",
        "message": lines[0],
        **{k: v for k, v in fields.items() if v},
    }
    print(json.dumps(record), flush=True)
