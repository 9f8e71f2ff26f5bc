"""oelint-adv, the OpenEmbedded style checker, finds nothing in the layer.

It runs from meta-ml-inference/ so that it reads the layer's .oelint.cfg: release
scarthgap, and only oelint.vars.homepageping suppressed (that rule fetches every HOMEPAGE
over the network; its verdict depends on third-party servers, not on the recipes).
"""

from __future__ import annotations

import subprocess

from tests.layer.layerlib import LAYER, layer_recipes, require_tool


def test_oelint_finds_nothing() -> None:
    oelint = require_tool("oelint-adv", "linting the recipes")
    files = [str(p.relative_to(LAYER)) for p in layer_recipes()]
    files += [
        "conf/layer.conf",
        *(str(p.relative_to(LAYER)) for p in LAYER.glob("conf/distro/*.conf")),
    ]
    result = subprocess.run(
        [oelint, "--quiet", "--jobs", "1", *files],
        cwd=LAYER,
        capture_output=True,
        text=True,
        timeout=600,
    )
    findings = (result.stdout + result.stderr).strip()
    assert result.returncode == 0 and not findings, f"oelint-adv findings:\n{findings}"


def test_oelint_configuration_suppresses_only_the_network_rule() -> None:
    config = (LAYER / ".oelint.cfg").read_text()
    lines = [line.strip() for line in config.splitlines() if not line.strip().startswith("#")]
    assert "release = scarthgap" in lines
    suppressed = lines[lines.index("suppress =") + 1 :]
    suppressed = suppressed[: next(i for i, x in enumerate(suppressed) if "=" in x or not x)]
    assert suppressed == ["oelint.vars.homepageping"]
