"""Writing sample models into a Triton-layout repository."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from mlinfer.samples.models import SampleModel


def write_model(model: SampleModel, repository: Path, version: int = 1) -> Path:
    directory = repository / model.name
    (directory / str(version)).mkdir(parents=True, exist_ok=True)
    (directory / "config.pbtxt").write_text(model.config)
    for filename, text in model.files.items():
        (directory / filename).write_text(text)
    path = directory / str(version) / "model.onnx"
    path.write_bytes(model.onnx_model.SerializeToString(deterministic=True))
    return path


def write_repository(
    repository: Path,
    builders: Iterable[Callable[[], SampleModel]],
    progress: Callable[[str], None] = lambda _: None,
) -> list[Path]:
    written = []
    for build in builders:
        progress(f"building {build.__name__} ...")
        model = build()
        written.append(write_model(model, repository))
        progress(f"  wrote {model.name}")
    return written
