"""Result files of ``mlinfer bench``: one JSON document and one CSV (a row per level)."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from mlinfer.bench.loadgen import LoadConfig
from mlinfer.bench.machine import machine_info
from mlinfer.bench.stats import LevelResult


def result_document(
    config: LoadConfig, levels: Sequence[LevelResult], extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "tool": "mlinfer bench",
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "config": asdict(config),
        "machine": machine_info(),
        "levels": [level.as_dict() for level in levels],
        **(extra or {}),
    }


def write_csv(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """Rows with possibly different keys: the header is the union, in first-seen order."""
    header: list[str] = []
    for row in rows:
        header.extend(k for k in row if k not in header)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(row.get(k)) for k in header})


def _cell(value: Any) -> Any:
    if isinstance(value, float):
        return f"{value:.6g}"
    if value is None:
        return ""
    return value


def write_results(
    stem: Path,
    config: LoadConfig,
    levels: Sequence[LevelResult],
    extra: Mapping[str, Any] | None = None,
) -> tuple[Path, Path]:
    """Write ``<stem>.json`` and ``<stem>.csv``; return their paths."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    json_path = stem.with_name(stem.name + ".json")
    csv_path = stem.with_name(stem.name + ".csv")
    json_path.write_text(
        json.dumps(result_document(config, levels, extra), indent=2) + "\n", encoding="utf-8"
    )
    write_csv(csv_path, [level.csv_row() for level in levels])
    return json_path, csv_path
