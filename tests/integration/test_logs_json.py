"""With ``MLINFER_LOG_FORMAT=json`` every line the process writes is a JSON record: the ready
banner, and nothing from ONNX Runtime's own logger when a client sends input it rejects."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import httpx

from tests.support.servers import start_cli_server


def test_every_output_line_is_json(sample_repository: Path) -> None:
    proc, url = start_cli_server(
        sample_repository,
        "--load-model",
        "text_encoder",
        env={"MLINFER_LOG_FORMAT": "json", "MLINFER_LOG_LEVEL": "INFO"},
    )
    try:
        ids = [5000, 1, 2]  # token 5000 is outside the vocabulary: ONNX Runtime rejects it
        body = {
            "inputs": [
                {"name": "input_ids", "datatype": "INT64", "shape": [1, 3], "data": ids},
                {"name": "attention_mask", "datatype": "INT64", "shape": [1, 3], "data": [1] * 3},
            ]
        }
        response = httpx.post(f"http://{url}/v2/models/text_encoder/infer", json=body)
        assert response.status_code == 400, response.text
        assert "out of data bounds" in response.json()["error"]
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=60)
    lines = [line for line in output.splitlines() if line.strip()]
    not_json = []
    for line in lines:
        try:
            json.loads(line)
        except json.JSONDecodeError:
            not_json.append(line)
    assert not_json == []
    messages = [json.loads(line).get("message", "") for line in lines]
    assert any(m.startswith("mlinfer ready (embedded engine") for m in messages), messages
