"""A/B: a fixed split with a per-arm report, promoted by hand; and the laptop path, where
one ``mlinfer serve`` hosts the registry (SQLite + local artifacts) and the CLI deploys."""

from __future__ import annotations

import os
import signal
import subprocess
from collections import Counter
from pathlib import Path

import httpx
import numpy as np

from mlinfer.samples.graph import FLOAT, GraphBuilder
from mlinfer.samples.models import SampleModel
from tests.support.ports import free_port
from tests.support.registry import (
    RegistryClient,
    embedded,
    onnx_bytes,
    registry_settings,
    serving_repository,
    simple_variant,
)
from tests.support.servers import cli_command, start_cli_server, wait_until

BODY = {
    "inputs": [
        {"name": "INPUT0", "datatype": "INT32", "shape": [1, 16], "data": list(range(16))},
        {"name": "INPUT1", "datatype": "INT32", "shape": [1, 16], "data": [1] * 16},
    ]
}


def test_ab_split_reports_per_arm_and_promotes_by_hand(tmp_path: Path) -> None:
    repo = serving_repository(tmp_path)
    with embedded(repo, registry_settings(tmp_path / "registry")) as srv:
        registry = RegistryClient(srv.server.registry_server.url)  # type: ignore[union-attr]
        try:
            registry.push(simple_variant("Add"))
            registry.push(simple_variant("Sub"))
            assert registry.deploy("simple", "1").status_code == 200
            started = registry.http.post(
                "/v1/models/simple/ab", json={"version": "2", "weight": 30}
            )
            assert started.status_code == 200, started.text
            wait_until(
                lambda: dict(srv.server.traffic.policies["simple"].arms) == {"1": 70, "2": 30},  # type: ignore[union-attr]
                "gateway took the A/B split",
            )
            seen: Counter[str] = Counter()
            with httpx.Client(base_url=f"http://{srv.http}") as http:
                for _ in range(300):
                    seen[
                        http.post("/v2/models/simple/infer", json=BODY).json()["model_version"]
                    ] += 1
                http.post("/v2/models/simple/infer", json={"inputs": []})  # a client error
            report = registry.status("simple")["rollout"]
            assert report["rollout"]["kind"] == "ab" and report["rollout"]["state"] == "running"
            arms = report["arms"]
            assert arms["1"]["requests"] == seen["1"] and arms["2"]["requests"] == seen["2"]
            assert arms["1"]["errors"] == 0 and arms["1"]["p99_ms"] >= arms["1"]["p50_ms"] > 0
            assert abs(seen["2"] / 300 - 0.30) <= 0.05
            promoted = registry.http.post("/v1/models/simple/promote")
            assert promoted.status_code == 200 and promoted.json()["state"] == "promoted"
            assert registry.status("simple")["traffic"]["arms"] == {"2": 100}
        finally:
            registry.close()


LABELS = ["cat", "dog", "bird"]
ANIMALS_CONFIG = """name: "animals"
max_batch_size: 8
input [ { name: "x" data_type: TYPE_FP32 dims: [ 3 ] } ]
output [ { name: "scores" data_type: TYPE_FP32 dims: [ 3 ] label_filename: "labels.txt" } ]
"""


def animals(shift: int) -> SampleModel:
    """A 3-class classifier: version 1 predicts the input's hot class, a shifted one the next."""
    g = GraphBuilder("animals")
    x = g.input("x", FLOAT, ["batch", 3])
    g.op("MatMul", [x, g.const(np.roll(np.eye(3, dtype=np.float32), shift, axis=1))], "scores")
    g.output("scores", FLOAT, ["batch", 3])
    return SampleModel("animals", g.model(), ANIMALS_CONFIG, {"labels.txt": "\n".join(LABELS)})


def test_ab_report_shows_each_arms_class_distribution(tmp_path: Path) -> None:
    repo = serving_repository(tmp_path, animals(0))
    with embedded(repo, registry_settings(tmp_path / "registry")) as srv:
        url = srv.server.registry_server.url  # type: ignore[union-attr]
        registry = RegistryClient(url)
        try:
            assert registry.push(animals(0)).status_code == 201
            assert registry.push(animals(1)).status_code == 201
            assert registry.deploy("animals", "1").status_code == 200
            started = registry.http.post(
                "/v1/models/animals/ab", json={"version": "2", "weight": 50}
            )
            assert started.status_code == 200, started.text
            wait_until(
                lambda: dict(srv.server.traffic.policies["animals"].arms) == {"1": 50, "2": 50},  # type: ignore[union-attr]
                "gateway took the A/B split",
            )
            # What each arm predicted, as the client saw it: raw scores (arg-max), the
            # classification extension (top class), and batches of two.
            seen: dict[str, Counter[str]] = {"1": Counter(), "2": Counter()}
            with httpx.Client(base_url=f"http://{srv.http}") as http:
                for i in range(240):
                    hot = [i % 3, (i + 1) % 3] if i % 4 == 3 else [i % 3]
                    rows = np.eye(3)[hot].tolist()
                    body: dict[str, object] = {
                        "inputs": [{"name": "x", "datatype": "FP32", "shape": [len(hot), 3],
                                    "data": rows}],
                    }  # fmt: skip
                    if i % 2:
                        body["outputs"] = [{"name": "scores", "parameters": {"classification": 1}}]
                    answer = http.post("/v2/models/animals/infer", json=body).json()
                    out = answer["outputs"][0]
                    if i % 2:
                        predicted = [text.split(":")[2] for text in out["data"]]
                    else:
                        scores = np.array(out["data"]).reshape(len(hot), 3)
                        predicted = [LABELS[k] for k in scores.argmax(axis=1)]
                    seen[answer["model_version"]].update(predicted)
            assert sum(seen["1"].values()) > 50 and sum(seen["2"].values()) > 50
            # Version 1 predicts the hot class, version 2 the next one: same inputs, other classes.
            arms = registry.status("animals")["rollout"]["arms"]
            assert arms["1"]["classes"] == dict(seen["1"])
            assert arms["2"]["classes"] == dict(seen["2"])
            assert arms["1"]["classes"] != arms["2"]["classes"]
            assert arms["1"]["requests"] + arms["2"]["requests"] == 240
            status = subprocess.run(
                cli_command("registry", "status", "animals"),
                capture_output=True, text=True, env={**os.environ, "MLINFER_REGISTRY_URL": url},
            )  # fmt: skip
            assert status.returncode == 0, status.stderr
            lines = status.stdout.splitlines()
            assert "  predicted classes (share of the arm's predictions):" in lines
            for arm in ("1", "2"):
                total = sum(seen[arm].values())
                share = seen[arm]["cat"] / total
                row = next(line for line in lines[lines.index(
                    "  predicted classes (share of the arm's predictions):"):]
                    if line.startswith(f"  {arm} "))  # fmt: skip
                assert f"cat {share:.1%}" in row
        finally:
            registry.close()


def _up(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_one_serve_command_hosts_the_registry(tmp_path: Path) -> None:
    repo = serving_repository(tmp_path)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "MLINFER_REGISTRY_EMBEDDED": "true",
        "MLINFER_REGISTRY_PORT": str(port),
        "MLINFER_REGISTRY_DATABASE_URL": f"sqlite:///{tmp_path}/registry.db",
        "MLINFER_REGISTRY_ARTIFACT_DIR": str(tmp_path / "artifacts"),
        "MLINFER_REGISTRY_POLICY_CACHE": str(tmp_path / "policies.json"),
        "MLINFER_REGISTRY_DRAIN_SECONDS": "0.1",
    }
    proc, http = start_cli_server(repo, env=env)
    try:
        # REST answers ready first; the hosted registry starts right after it.
        wait_until(lambda: _up(f"{url}/healthz"), "hosted registry serving")
        model = simple_variant("Sub")
        (tmp_path / "model.onnx").write_bytes(onnx_bytes(model))
        (tmp_path / "config.pbtxt").write_text(model.config)
        cli_env = {**os.environ, "MLINFER_REGISTRY_URL": url}
        for args in (
            [
                "push",
                "simple",
                str(tmp_path / "model.onnx"),
                "--config",
                str(tmp_path / "config.pbtxt"),
            ],
            [
                "push",
                "simple",
                str(tmp_path / "model.onnx"),
                "--config",
                str(tmp_path / "config.pbtxt"),
            ],
            ["deploy", "simple", "2"],
        ):
            done = subprocess.run(
                cli_command("registry", *args), capture_output=True, text=True, env=cli_env
            )
            assert done.returncode == 0, done.stderr
        answer = httpx.post(f"http://{http}/v2/models/simple/infer", json=BODY).json()
        assert answer["model_version"] == "2"
        status = subprocess.run(
            cli_command("registry", "status", "simple"), capture_output=True, text=True, env=cli_env
        )
        assert "deploy #1 version 2: succeeded" in status.stdout
        bad = subprocess.run(
            cli_command("registry", "split", "simple", "1=50", "2=40"),
            capture_output=True, text=True, env=cli_env,
        )  # fmt: skip
        assert bad.returncode == 1 and "sum to 90" in bad.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)  # reap it and close its output pipe
