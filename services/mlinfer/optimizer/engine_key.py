"""Stage 4: the engine cache key, stored beside every engine and checked before any use.

A TensorRT engine is only valid for the exact ONNX, precision, calibration data, shapes,
builder flags, TensorRT and CUDA versions and GPU (down to the Jetson module) it was built
with; a mismatch can crash or silently compute garbage after a JetPack upgrade. The key is the
sha256 of all of them; the readable parts are stored too, so a refusal says what changed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mlinfer.optimizer.device import DeviceInfo
from mlinfer.optimizer.errors import EngineMismatchError

KEY_SUFFIX = ".key.json"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def arrays_sha256(arrays: Mapping[str, Any]) -> str:
    """Hash of calibration data (names, dtypes, shapes and bytes, in name order)."""
    import numpy as np

    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class EngineKey:
    onnx_sha256: str
    precision: str
    calibration_sha256: str | None
    profiles: Mapping[str, Sequence[Sequence[int]]]
    """input -> (min, opt, max) shapes."""
    flags: Sequence[str]
    tensorrt_version: str
    cuda_version: str | None
    device: Mapping[str, Any]
    extra: Mapping[str, Any] = field(default_factory=dict)

    def parts(self) -> dict[str, Any]:
        data = asdict(self)
        data["profiles"] = {k: [list(s) for s in v] for k, v in sorted(self.profiles.items())}
        data["flags"] = sorted(self.flags)
        return data

    @property
    def digest(self) -> str:
        canonical = json.dumps(self.parts(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def to_json(self) -> str:
        return json.dumps({"key": self.digest, "parts": self.parts()}, indent=2) + "\n"


def device_part(device: DeviceInfo | None) -> dict[str, Any]:
    if device is None:
        return {}
    return {
        "name": device.name,
        "compute_capability": device.compute_capability,
        "jetson_model": device.jetson_model,
        "jetson_compatible": list(device.jetson_compatible),
    }


def key_path(engine: Path) -> Path:
    return engine.with_name(engine.name + KEY_SUFFIX)


def write_key(engine: Path, key: EngineKey) -> Path:
    path = key_path(engine)
    path.write_text(key.to_json(), encoding="utf-8")
    return path


def stored_parts(engine: Path) -> dict[str, Any] | None:
    path = key_path(engine)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    parts = data.get("parts")
    return parts if isinstance(parts, dict) else None


def differences(stored: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """What differs, for every part ``current`` names (a partial key compares just those)."""
    changed = []
    for name in sorted(current):
        if stored.get(name) != current.get(name):
            changed.append(f"{name}: engine has {stored.get(name)!r}, now {current.get(name)!r}")
    return changed


def cached_engine_matches(engine: Path, key: EngineKey) -> bool:
    """True if ``engine`` exists and was built under exactly ``key`` (the build can be skipped)."""
    stored = stored_parts(engine)
    return engine.is_file() and stored is not None and not differences(stored, key.parts())


def runtime_parts(
    tensorrt_version: str, cuda_version: str | None, device: DeviceInfo | None
) -> dict[str, Any]:
    """The parts of the key a loader can check: what this machine runs."""
    return {
        "tensorrt_version": tensorrt_version,
        "cuda_version": cuda_version,
        "device": device_part(device),
    }


def verify_engine(engine: Path, expected: Mapping[str, Any]) -> None:
    """Refuse an engine whose stored key differs from ``expected`` (a full key's
    :meth:`EngineKey.parts`, or :func:`runtime_parts` for this machine)."""
    stored = stored_parts(engine)
    if stored is None:
        raise EngineMismatchError(
            f"{engine} has no readable {key_path(engine).name} beside it: its build is "
            "unknown, so it is not loaded; rebuild it with `mlinfer optimize --target tensorrt`"
        )
    changed = differences(stored, expected)
    if changed:
        raise EngineMismatchError(
            f"{engine} was built for something else, so it is not loaded ("
            + "; ".join(changed)
            + "); rebuild it with `mlinfer optimize --target tensorrt`"
        )
