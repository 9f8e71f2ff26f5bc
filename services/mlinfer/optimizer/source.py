"""What is being optimized: an ONNX file and, when it comes from a repository, its config."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tritonclient.grpc import model_config_pb2 as mc

from mlinfer.core.errors import MLInferError
from mlinfer.core.model_config import read_config
from mlinfer.core.repository import ModelRepository
from mlinfer.optimizer.errors import ModelCheckError


@dataclass(frozen=True)
class SourceModel:
    name: str
    onnx_path: Path
    config: mc.ModelConfig | None
    directory: Path | None = None
    """The source model directory (label files are copied from it on publish)."""
    labels: dict[str, list[str]] = field(default_factory=dict)
    version: int | None = None

    def preferred_batch_sizes(self) -> tuple[int, ...]:
        if self.config is None or not self.config.HasField("dynamic_batching"):
            return ()
        return tuple(self.config.dynamic_batching.preferred_batch_size)

    @property
    def max_batch_size(self) -> int:
        return self.config.max_batch_size if self.config is not None else 0

    def image_config(self) -> tuple[mc.ModelConfig, tuple[str, ...]] | None:
        if self.config is None:
            return None
        first = next(iter(self.labels.values()), [])
        return self.config, tuple(first)


def resolve_source(path: Path, name: str | None = None) -> SourceModel:
    """``path`` is a model directory of a Triton repository (its newest served version is
    used) or an ``.onnx`` file, optionally inside such a directory's version folder."""
    if path.is_dir():
        try:
            source = ModelRepository(path.parent).read(path.name)
        except MLInferError as exc:
            raise ModelCheckError(f"{path}: {exc}") from None
        version = max(source.versions)
        return SourceModel(
            name=name or source.name,
            onnx_path=source.versions[version],
            config=source.config,
            directory=source.directory,
            labels=source.labels,
            version=version,
        )
    if not path.exists():
        raise ModelCheckError(f"{path} does not exist")
    if path.suffix not in (".onnx", ".plan"):
        raise ModelCheckError(f"{path}: give a model directory (with config.pbtxt) or a .onnx")
    model_dir = path.parent.parent
    if path.parent.name.isdigit() and (model_dir / "config.pbtxt").is_file():
        try:
            config = read_config(model_dir)
        except MLInferError as exc:
            raise ModelCheckError(str(exc)) from None
        return SourceModel(name or model_dir.name, path, config, model_dir)
    return SourceModel(name or path.stem, path, None)
