"""The Locust file users drive the appliance with (tests/load/locustfile.py), run headless
and bounded against a live server: both user classes (REST with binary tensors, gRPC) get
answers the file checks, and a model the server does not have shows up as failures."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.servers import ServerThread

ROOT = Path(__file__).resolve().parents[2]
LOCUST = ROOT / ".venv-locust" / "bin" / "locust"
LOCUSTFILE = ROOT / "tests" / "load" / "locustfile.py"
ITERATIONS = 25

pytestmark = [
    pytest.mark.locust,
    pytest.mark.skipif(not LOCUST.exists(), reason=f"{LOCUST} missing: run scripts/ci/locust.sh"),
]


def _run(server: ServerThread, model: str, out: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """One user of each class, ITERATIONS requests each; Locust's final statistics by (type, name).

    The run ends when both users have made their requests (--run-time is only a safety net).
    """
    env = {
        **os.environ,
        "MLINFER_LOCUST_MODEL": model,
        "MLINFER_LOCUST_GRPC": server.grpc,
        "MLINFER_LOCUST_ITERATIONS": str(ITERATIONS),
    }
    command = [
        str(LOCUST), "-f", str(LOCUSTFILE), "--host", f"http://{server.http}", "--headless",
        "--users", "2", "--spawn-rate", "2", "--run-time", "300s", "--stop-timeout", "10",
        "--json-file", str(out / "stats"), "--only-summary", "--loglevel", "WARNING",
        "RestInferUser", "GrpcInferUser",
    ]  # fmt: skip
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    report = out / "stats.json"
    assert report.exists(), run.stdout[-3000:] + run.stderr[-3000:]
    return {(row["method"], row["name"]): row for row in json.loads(report.read_text())}


def test_both_users_get_checked_answers(server: ServerThread, tmp_path: Path) -> None:
    rows = _run(server, "simple", tmp_path)
    for key in (("POST", "POST /v2/models/simple/infer"), ("grpc", "ModelInfer")):
        assert key in rows, f"no {key} requests: {sorted(rows)}"
        assert rows[key]["num_requests"] == ITERATIONS
        assert rows[key]["num_failures"] == 0, rows[key]


def test_a_missing_model_is_counted_as_failures(server: ServerThread, tmp_path: Path) -> None:
    rows = _run(server, "no_such_model", tmp_path)
    for key in (("GET", "model metadata"), ("grpc", "model metadata")):
        assert rows[key]["num_failures"] == 1, rows
    assert ("POST", "POST /v2/models/no_such_model/infer") not in rows  # none without metadata
