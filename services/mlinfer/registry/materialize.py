"""Putting a version into the serving repository: all of it or nothing.

The artifact is downloaded into a hidden temporary directory beside the version folder,
verified against its sha256, and renamed into place; the repository reader ignores
hidden folders, so the engine never sees half a version. ``config.pbtxt`` is replaced
the same way (write a temporary file, then ``os.replace``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as mc

from mlinfer.registry.artifacts import ArtifactStore, sha256_of
from mlinfer.registry.validate import model_filename


def materialize(
    store: ArtifactStore, repository: Path, model: str, version: int, sha256: str, fmt: str
) -> Path | None:
    """Ensure ``<repository>/<model>/<version>/<model file>`` holds exactly ``sha256``.

    A folder of another origin that held that version number is moved aside, not deleted:
    the returned hidden path (None when nothing was displaced) goes back with
    :func:`put_back` if the new version fails to load, or is dropped with :func:`discard`.
    """
    model_dir = repository / model
    model_dir.mkdir(parents=True, exist_ok=True)
    target = model_dir / str(version)
    filename = model_filename(fmt)
    if (target / filename).is_file() and sha256_of(target / filename) == sha256:
        return None
    staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=model_dir))
    displaced: Path | None = None
    try:
        store.fetch_verified(sha256, staging / filename)
        if target.exists():  # a stale or foreign folder: move it aside, never half-replace
            displaced = Path(tempfile.mkdtemp(prefix=f".{version}-displaced-", dir=model_dir))
            os.rename(target, displaced / "files")
        os.rename(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return displaced


def put_back(repository: Path, model: str, version: int, displaced: Path | None) -> None:
    """Undo :func:`materialize`: the version folder is what it was before (or gone)."""
    target = repository / model / str(version)
    shutil.rmtree(target, ignore_errors=True)
    if displaced is not None:
        os.rename(displaced / "files", target)
        shutil.rmtree(displaced, ignore_errors=True)


def discard(displaced: Path | None) -> None:
    if displaced is not None:
        shutil.rmtree(displaced, ignore_errors=True)


def write_config(repository: Path, model: str, config: mc.ModelConfig) -> str | None:
    """Replace the model's config.pbtxt atomically; returns the previous text (or None)."""
    path = repository / model / "config.pbtxt"
    previous = path.read_text() if path.exists() else None
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".config-")
    with os.fdopen(fd, "w") as f:
        f.write(text_format.MessageToString(config))
    os.replace(tmp, path)
    return previous


def restore_config(repository: Path, model: str, previous: str | None) -> None:
    path = repository / model / "config.pbtxt"
    if previous is None:
        path.unlink(missing_ok=True)
        return
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".config-")
    with os.fdopen(fd, "w") as f:
        f.write(previous)
    os.replace(tmp, path)
