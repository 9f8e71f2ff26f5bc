"""The systemd units the image installs: valid for systemd, and running real commands.

The templates are rendered exactly as the recipes render them: the substitutions are read
from mlinfer_render in classes/mlinfer_layout.bbclass, the layout defaults from the same
class, and the build paths are replaced with test paths. ExecStart= must name an
executable for systemd-analyze, so the mlinfer units point at the mlinfer script of this
environment (the package under test) and Triton's unit at a stand-in tritonserver.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from tests.layer.layerlib import (
    LAYER,
    REPO,
    find_tool,
    read_metadata,
    require_tool,
    unit_templates,
    unit_values,
)

LAYOUT_CLASS = LAYER / "classes" / "mlinfer_layout.bbclass"
SCRIPTS = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]


def substitutions(paths: dict[str, str]) -> dict[str, str]:
    """@NAME@ -> value, as mlinfer_render does it, with test values for the build paths."""
    assignments, _ = read_metadata(LAYOUT_CLASS)
    defaults = {a.var: a.value for a in assignments if a.flag is None}

    def expand(value: str) -> str:
        for _ in range(8):
            value = re.sub(
                r"\$\{(\w+)\}", lambda m: paths.get(m[1], defaults.get(m[1], m[0])), value
            )
        return value

    pairs = [
        (name, value)
        for _, name, value in re.findall(
            r"-e 's([,#])@([A-Z_]+)@\1(.*?)\1g'", LAYOUT_CLASS.read_text()
        )
    ]
    assert pairs, "no substitutions found in mlinfer_render"
    return {name: expand(value) for name, value in pairs}


def render(template: Path, paths: dict[str, str]) -> str:
    text = template.read_text()
    for name, value in substitutions(paths).items():
        text = text.replace(f"@{name}@", value)
    leftover = re.findall(r"@[A-Z_]*@", text)
    assert not leftover, f"{template.name}: unrendered {leftover}"
    return text


def sbin_programs() -> list[Path]:
    """What the units run from @SBINDIR@: the layer's own scripts (files/<name>) and the
    tools of other recipes (nft), which the test host has too."""
    programs = []
    for name in sorted(
        {m for t in unit_templates() for m in re.findall(r"@SBINDIR@/([\w.-]+)", t.read_text())}
    ):
        own = sorted(LAYER.glob(f"recipes-*/*/files/{name}"))
        host = find_tool(name)
        if own:
            programs.append(own[0])
        elif host is not None:
            programs.append(Path(host))
        else:
            pytest.skip(f"{name} is not installed (a unit runs it); scripts/ci/bitbake-tools.sh")
    return programs


def runs_console_script(template: Path) -> bool:
    (exec_start,) = unit_values(template.read_text(), "ExecStart")
    return exec_start.startswith("@BINDIR@/")


def mlinfer_script() -> str | None:
    return find_tool("mlinfer")


@pytest.fixture
def rendered_units(tmp_path: Path) -> list[Path]:
    stub_bin = tmp_path / "bin"
    stub_bin.mkdir()
    (stub_bin / "tritonserver").write_text("#!/bin/sh\nexit 0\n")
    (stub_bin / "tritonserver").chmod(0o755)
    script = mlinfer_script()
    if script is None:  # the ExecStart test below reports this; keep verify meaningful
        (stub_bin / "mlinfer").write_text("#!/bin/sh\nexit 0\n")
        (stub_bin / "mlinfer").chmod(0o755)
    sbin = tmp_path / "sbin"
    sbin.mkdir()
    for program in sbin_programs():
        (sbin / program.name).symlink_to(program)
    units = tmp_path / "units"
    units.mkdir()
    out = []
    for template in unit_templates():
        name = template.name.removesuffix(".in")
        bindir = (
            str(Path(script).parent) if script and name.startswith("mlinfer") else str(stub_bin)
        )
        paths = {
            "bindir": bindir,
            "base_bindir": "/bin",
            "sbindir": str(sbin),
            "libdir": "/usr/lib",
            "sysconfdir": str(tmp_path / "etc"),
        }
        path = units / name
        path.write_text(render(template, paths))
        out.append(path)
    return out


def test_units_pass_systemd_analyze_verify(rendered_units: list[Path]) -> None:
    analyze = require_tool("systemd-analyze", "checking the systemd units")
    result = subprocess.run(
        [analyze, "verify", "--man=no", *map(str, rendered_units)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = (result.stdout + result.stderr).strip()
    # Unknown directives and bad values are only warnings for systemd: fail on any
    # message about our units, not just on the exit status.
    ours = [line for line in output.splitlines() if any(u.name in line for u in rendered_units)]
    assert result.returncode == 0 and not ours, output


def test_every_service_has_a_unit() -> None:
    names = {t.name.removesuffix(".service.in") for t in unit_templates()}
    assert {
        "mlinfer-gateway",
        "mlinfer-grpc",
        "mlinfer-registry",
        "mlinfer-exporter",
        "mlinfer-autoscaler",
        "mlinfer-secrets",
        "tritonserver",
    } <= names


@pytest.mark.parametrize(
    "template",
    [t for t in unit_templates() if t.name.startswith("mlinfer-") and runs_console_script(t)],
    ids=lambda p: p.name,
)
def test_exec_start_is_a_real_subcommand(template: Path) -> None:
    """ExecStart names the package's console script and a subcommand that exists."""
    (exec_start,) = unit_values(template.read_text(), "ExecStart")
    program, *arguments = shlex.split(exec_start)
    script = program.removeprefix("@BINDIR@/")
    assert script in SCRIPTS, f"{script} is not in [project.scripts] of pyproject.toml"
    installed = mlinfer_script()
    if installed is None:
        pytest.fail(
            f"the {script} console script is not installed in this environment "
            f"({Path(sys.executable).parent}); install the package (scripts/bootstrap.sh)"
        )
    result = subprocess.run(
        [installed, *arguments, "--help"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, (
        f"`{script} {' '.join(arguments)} --help` exited {result.returncode}:\n"
        f"{result.stdout}{result.stderr}"
    )


def test_console_script_entry_point_is_importable() -> None:
    module, _, function = SCRIPTS["mlinfer"].partition(":")
    result = subprocess.run(
        [sys.executable, "-c", f"from {module} import {function}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"{SCRIPTS['mlinfer']} does not import:\n{result.stderr}"
