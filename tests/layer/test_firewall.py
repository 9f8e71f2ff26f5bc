"""The appliance's nftables ruleset: valid for nft, default drop, and open exactly where the
units listen for the outside.

The ruleset is rendered from its template as the recipe renders it (mlinfer_render's
substitutions and the layout defaults, tests/layer/test_units.py), then checked by nft
itself (``nft -c``: parsed and evaluated, nothing loaded) and against the ports the
configuration gives nginx, the metrics scrapes and the internal services.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.layer.layerlib import DEPLOY, LAYER, read_metadata, require_tool
from tests.layer.test_frontend import appliance_conf
from tests.layer.test_units import render

TEMPLATE = LAYER / "recipes-mlinfer/mlinfer-firewall/files/mlinfer-firewall.nft.in"
LAYOUT = {
    a.var: a.value
    for a in read_metadata(LAYER / "classes" / "mlinfer_layout.bbclass")[0]
    if a.flag is None
}
# Loopback-only or internal: Triton HTTP/gRPC, the gRPC service (behind nginx), Redis,
# PostgreSQL, nginx's own health port, the registry's admin API.
INTERNAL = {
    int(LAYOUT["MLINFER_GRPC_PORT"]),
    int(LAYOUT["MLINFER_REGISTRY_PORT"]),
    int(LAYOUT["MLINFER_TRITON_HTTP_PORT"]),
    int(LAYOUT["MLINFER_TRITON_GRPC_PORT"]),
    6379,
    5432,
    8080,
}


def ruleset(tmp_path: Path, without_ssh: bool = False) -> Path:
    template = TEMPLATE
    if without_ssh:  # what the recipe does for MLINFER_SSH_PORT = ""
        template = tmp_path / TEMPLATE.name
        template.write_text(
            "".join(
                line
                for line in TEMPLATE.read_text().splitlines(keepends=True)
                if "@MLINFER_SSH_PORT@" not in line
            )
        )
    path = tmp_path / "firewall.nft"
    path.write_text(render(template, {}))
    return path


def ports(words: str) -> set[int]:
    return {int(p) for p in re.findall(r"\d+", words)}


def opened(text: str) -> tuple[set[int], set[int]]:
    """TCP ports accepted from anywhere, and from the metrics sources only."""
    anywhere: set[int] = set()
    metrics: set[int] = set()
    for line in text.splitlines():
        match = re.search(r"tcp dport (\{[^}]*\}|\d+) accept", line)
        if match is None:
            continue
        if "saddr @metrics_sources" in line:
            metrics |= ports(match[1])
        else:
            assert "saddr" not in line, f"unexpected source match: {line}"
            anywhere |= ports(match[1])
    return anywhere, metrics


def public_listen_ports(conf: str) -> set[int]:
    """nginx's listen ports on every address (``listen 443``, ``listen [::]:443``), not
    the loopback ones (``listen 127.0.0.1:8080``)."""
    found = set()
    for address in re.findall(r"^\s*listen\s+([^\s;]+)", conf, re.M):
        match = re.fullmatch(r"(?:\[::\]:)?(\d+)", address)
        if match:
            found.add(int(match[1]))
        else:
            assert address.startswith("127.0.0.1:"), f"nginx listens on {address}"
    return found


@pytest.mark.parametrize("without_ssh", [False, True], ids=["ssh", "no-ssh"])
def test_ruleset_passes_nft_check(tmp_path: Path, without_ssh: bool) -> None:
    nft = require_tool("nft", "nft -c on the ruleset (apt nftables)")
    path = ruleset(tmp_path, without_ssh)
    result = subprocess.run(
        [nft, "-c", "-f", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def test_input_policy_is_drop(tmp_path: Path) -> None:
    text = ruleset(tmp_path).read_text()
    chains = re.findall(r"type filter hook (\w+) priority filter; policy (\w+);", text)
    assert dict(chains) == {"input": "drop", "forward": "drop"}
    assert 'iif "lo" accept' in text


def test_open_ports_are_nginx_and_ssh(tmp_path: Path) -> None:
    anywhere, _ = opened(ruleset(tmp_path).read_text())
    listen = public_listen_ports(appliance_conf())
    assert anywhere == listen | {int(LAYOUT["MLINFER_SSH_PORT"])}
    assert not anywhere & INTERNAL
    without_ssh, _ = opened(ruleset(tmp_path, without_ssh=True).read_text())
    assert without_ssh == listen


def test_metrics_ports_are_what_a_central_prometheus_scrapes(tmp_path: Path) -> None:
    _, metrics = opened(ruleset(tmp_path).read_text())
    central = yaml.safe_load((DEPLOY / "prometheus" / "appliance.yml").read_text())
    scraped = {
        int(target.rsplit(":", 1)[1])
        for job in central["scrape_configs"]
        for config in job["static_configs"]
        for target in config["targets"]
    }
    assert metrics == scraped
    assert metrics == {
        int(LAYOUT[f"MLINFER_{name}_PORT"])
        for name in ("HTTP", "TRITON_METRICS", "EXPORTER", "AUTOSCALER")
    }
    assert not metrics & INTERNAL


def test_internal_ports_are_loopback_or_closed() -> None:
    """What the firewall leaves closed is also what nothing outside needs: Triton's HTTP and
    gRPC endpoints listen on loopback (tritonserver.env)."""
    triton = (LAYER / "recipes-mlinfer/tritonserver-service/files/tritonserver.env.in").read_text()
    assert "TRITON_GRPC_ADDRESS=127.0.0.1" in triton
    assert re.search(r"^TRITON_HTTP_ADDRESS=127\.0\.0\.1$", triton, re.M)
