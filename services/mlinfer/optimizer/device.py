"""The GPU an engine is built for: what a TensorRT engine silently depends on.

Compute capability and name come from CUDA (cuda-python) or ``nvidia-smi``; on a Jetson the
module comes from the device tree (``/proc/device-tree/model`` and ``compatible``, e.g.
``nvidia,p3701-0005`` for an AGX Orin 64GB), since an engine built on one Orin module is not
guaranteed to run on another (different GPU clocks, SM counts and DLA availability).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

DEVICE_TREE = Path("/proc/device-tree")
# Jetson SoCs -> compute capability (nvidia-smi does not exist there).
_TEGRA_SM = {"tegra234": "8.7", "tegra194": "7.2", "tegra186": "6.2", "tegra210": "5.3"}


@dataclass(frozen=True)
class DeviceInfo:
    name: str
    compute_capability: str
    jetson_model: str | None = None
    jetson_compatible: tuple[str, ...] = ()
    cuda_version: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["jetson_compatible"] = list(self.jetson_compatible)
        return data


def _read_tree(name: str, root: Path) -> str | None:
    try:
        return (root / name).read_bytes().decode("ascii", "replace")
    except OSError:
        return None


def jetson_identity(root: Path = DEVICE_TREE) -> tuple[str | None, tuple[str, ...]]:
    model = _read_tree("model", root)
    compatible = _read_tree("compatible", root)
    parts = tuple(p for p in (compatible or "").split("\0") if p)
    if not any(p.startswith("nvidia,tegra") for p in parts):
        return None, ()
    return (model or "").strip("\0 \n") or None, parts


def _nvidia_smi() -> tuple[str, str, str | None] | None:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    try:
        out = subprocess.run(
            [smi, "--query-gpu=name,compute_cap,driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    first = out.strip().splitlines()[0] if out.strip() else ""
    fields = [f.strip() for f in first.split(",")]
    return (
        (fields[0], fields[1], fields[2] if len(fields) > 2 else None) if len(fields) >= 2 else None
    )


def _cuda_runtime_version() -> str | None:
    try:
        from cuda.bindings import runtime as cudart  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    try:
        err, version = cudart.cudaRuntimeGetVersion()
    except Exception:  # no driver / library: the version stays unknown, not a crash
        return None
    if int(err) != 0:
        return None
    return f"{version // 1000}.{(version % 1000) // 10}"


def _cuda_toolkit_version() -> str | None:
    import json

    try:
        data = json.loads(Path("/usr/local/cuda/version.json").read_text(encoding="utf-8"))
        return str(data["cuda"]["version"])
    except (OSError, ValueError, KeyError):
        return None


def current_device(device_tree: Path = DEVICE_TREE) -> DeviceInfo | None:
    """The GPU here, or None without one."""
    cuda = _cuda_runtime_version() or _cuda_toolkit_version()
    model, compatible = jetson_identity(device_tree)
    if model is not None:
        soc = next((p.split(",", 1)[1] for p in compatible if p.startswith("nvidia,tegra")), "")
        return DeviceInfo(model, _TEGRA_SM.get(soc, "unknown"), model, compatible, cuda)
    smi = _nvidia_smi()
    if smi is None:
        return None
    name, capability, _driver = smi
    return DeviceInfo(name, capability, cuda_version=cuda)
