"""The ready banner of ``mlinfer serve`` names the admin panel's URL (and not when it is off)."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import httpx

from tests.support.servers import start_cli_server


def _banner(repository: Path, env: dict[str, str]) -> tuple[str, str]:
    proc, url = start_cli_server(repository, "--load-model", "simple", env=env)
    try:
        if env.get("MLINFER_ADMIN_ENABLED") != "false":
            page = httpx.get(f"http://{url}/admin")
            assert page.status_code == 200 and "mlinfer admin" in page.text
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=60)
    return output, url


def test_json_banner_has_the_admin_url(sample_repository: Path, tmp_path: Path) -> None:
    env = {
        "MLINFER_LOG_FORMAT": "json",
        "MLINFER_REGISTRY_EMBEDDED": "true",
        "MLINFER_REGISTRY_PORT": "0",
        "MLINFER_REGISTRY_DATABASE_URL": f"sqlite:///{tmp_path}/registry.db",
        "MLINFER_REGISTRY_ARTIFACT_DIR": str(tmp_path / "artifacts"),
        "MLINFER_REGISTRY_POLICY_CACHE": str(tmp_path / "policies.json"),
    }
    output, url = _banner(sample_repository, env)
    records = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    ready = [r for r in records if r.get("message", "").startswith("mlinfer ready")]
    assert len(ready) == 1, output
    assert ready[0]["admin"] == f"http://{url}/admin"
    assert ready[0]["rest"] == url
    assert ready[0]["registry"].startswith("http://127.0.0.1:")  # the hosted registry


def test_text_banner_lists_the_admin_url_unless_the_panel_is_off(sample_repository: Path) -> None:
    output, url = _banner(sample_repository, {"MLINFER_LOG_FORMAT": "text"})
    assert f"admin    http://{url}/admin" in output, output
    output, url = _banner(
        sample_repository, {"MLINFER_LOG_FORMAT": "text", "MLINFER_ADMIN_ENABLED": "false"}
    )
    assert "mlinfer ready" in output and "/admin" not in output, output
    assert "registry" not in output  # none hosted
