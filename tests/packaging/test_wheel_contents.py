"""The wheel is the product: what ships on the device is the serving code, not its tooling.

Builds the real wheel from the checkout (as the Yocto recipe's PEP 517 build does) and reads
its file list and metadata.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]

# Development tooling that lives outside the package: the benchmark driver and model
# builders (bench/), the Triton launcher (tests/support/triton/).
FORBIDDEN_PREFIXES = ("mlinfer/triton/", "bench/", "tests/")
FORBIDDEN_MODULES = tuple(
    f"mlinfer/bench/{name}.py"
    for name in ("suite", "report", "measure", "servers", "ceiling", "models", "bert", "vision")
)
# Used only by development tools; the serving processes must not need them.
NOT_RUNTIME_DEPENDENCIES = ("psutil", "onnx", "onnxruntime", "scikit-learn", "nvidia-pytriton")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    # Built from a copy of what the sdist holds, so no build/ folder of an earlier build in
    # the checkout can leak into (or hide from) the result.
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(REPO / name, source / name)
    shutil.copytree(REPO / "services", source / "services", ignore=shutil.ignore_patterns(
        "__pycache__", "*.egg-info"
    ))
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (path,) = out.glob("mlinfer-*.whl")
    return zipfile.ZipFile(path)


def test_wheel_ships_no_development_tooling(wheel: zipfile.ZipFile) -> None:
    names = wheel.namelist()
    assert "mlinfer/server.py" in names  # the build really packaged the product
    shipped = [
        n for n in names if n.startswith(FORBIDDEN_PREFIXES) or n in FORBIDDEN_MODULES
    ]
    assert shipped == [], f"development tooling in the wheel: {shipped}"


def test_wheel_runtime_dependencies_exclude_tool_only_packages(wheel: zipfile.ZipFile) -> None:
    (metadata_name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    metadata = Parser().parsestr(wheel.read(metadata_name).decode())
    requirements = [Requirement(r) for r in metadata.get_all("Requires-Dist") or []]
    runtime = [r.name for r in requirements if r.marker is None or "extra" not in str(r.marker)]
    assert runtime, "no runtime dependencies read from the wheel metadata"
    leaked = [name for name in runtime if name in NOT_RUNTIME_DEPENDENCIES]
    assert leaked == [], f"tool-only packages among runtime dependencies: {leaked}"
