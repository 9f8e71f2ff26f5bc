"""Reading a Triton-layout model repository: ``<model>/config.pbtxt``, ``<model>/<version>/``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tritonclient.grpc import model_config_pb2 as mc

from mlinfer.core.errors import InvalidInputError, ModelLoadError, ModelNotFoundError
from mlinfer.core.model_config import model_filename, read_config
from mlinfer.core.parameters import ascii_digits

# A model is a directory of the repository: its name is one path component, and file systems
# (ext4, XFS, tmpfs) take at most 255 bytes per component.
MAX_NAME_BYTES = 255


@dataclass(frozen=True)
class ModelSource:
    """What the repository holds for one model: its config and the versions to serve."""

    name: str
    directory: Path
    config: mc.ModelConfig
    versions: dict[int, Path]  # version -> model file, chosen by the version policy
    labels: dict[str, list[str]]  # output name -> labels (label_filename)


class ModelRepository:
    def __init__(self, root: Path) -> None:
        self.root = root

    def model_names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")
        )

    def model_dir(self, name: str) -> Path:
        """The model's directory; NOT_FOUND for a name the repository does not hold."""
        check_model_name(name)
        # Names come from clients: never let one escape the repository.
        if not name or "/" in name or "\\" in name or "\0" in name or name in (".", ".."):
            raise ModelNotFoundError(f"Request for unknown model: '{name}' is not found")
        path = self.root / name
        try:
            found = path.is_dir()
        except OSError as exc:  # e.g. a component the file system refuses
            raise ModelNotFoundError(
                f"Request for unknown model: '{name}' is not found ({exc.strerror})"
            ) from None
        if not found:
            raise ModelNotFoundError(f"Request for unknown model: '{name}' is not found")
        return path

    def holds(self, name: str) -> bool:
        """Whether ``name`` is a model directory of the repository (never raises for names)."""
        try:
            self.model_dir(name)
        except (ModelNotFoundError, InvalidInputError):
            return False
        return True

    def fingerprint(self, name: str) -> tuple[tuple[str, int, int], ...]:
        """Changes whenever a file of the model changes; poll mode compares these."""
        directory = self.model_dir(name)
        entries = []
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                stat = path.stat()
                entries.append((str(path.relative_to(directory)), stat.st_mtime_ns, stat.st_size))
        return tuple(entries)

    def read(self, name: str, config: mc.ModelConfig | None = None) -> ModelSource:
        """The model's files as ``config`` (default: its config.pbtxt) selects them: a load's
        config override chooses versions and labels as the file would."""
        directory = self.model_dir(name)
        if config is None:
            config = read_config(directory)
        available = self._available_versions(directory, config)
        chosen = select_versions(config, sorted(available))
        labels = {
            out.name: self._read_labels(directory, out.label_filename)
            for out in config.output
            if out.label_filename
        }
        return ModelSource(name, directory, config, {v: available[v] for v in chosen}, labels)

    @staticmethod
    def _available_versions(directory: Path, config: mc.ModelConfig) -> dict[int, Path]:
        filename = model_filename(config)
        versions: dict[int, Path] = {}
        for child in directory.iterdir():
            if child.is_dir() and ascii_digits(child.name) and (child / filename).is_file():
                versions[int(child.name)] = child / filename
        return versions

    @staticmethod
    def _read_labels(directory: Path, filename: str) -> list[str]:
        path = directory / filename
        if not path.is_file():
            raise ModelLoadError(f"label file '{filename}' of model '{directory.name}' not found")
        return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def check_model_name(name: str) -> None:
    """A name no repository can hold is the client's error, said before any file is touched."""
    size = len(name.encode("utf-8", "surrogatepass"))
    if size > MAX_NAME_BYTES:
        raise InvalidInputError(
            f"model name is {size} bytes long: a model name is at most {MAX_NAME_BYTES} bytes "
            "(it names a directory of the model repository)"
        )


def select_versions(config: mc.ModelConfig, available: list[int]) -> list[int]:
    """Apply ``version_policy`` (default: latest 1) to the versions present on disk."""
    if not available:
        raise ModelLoadError(
            f"model '{config.name}' has no versions: expected numbered version directories "
            "holding the model file"
        )
    policy = config.version_policy
    kind = policy.WhichOneof("policy_choice")
    if kind == "all":
        return available
    if kind == "specific":
        wanted = sorted(int(v) for v in policy.specific.versions)
        missing = [v for v in wanted if v not in available]
        if missing:
            raise ModelLoadError(
                f"model '{config.name}': version_policy.specific names version(s) "
                f"{missing} that are not in the repository (present: {available})"
            )
        return wanted
    count = policy.latest.num_versions if kind == "latest" else 1
    if count < 1:
        raise ModelLoadError(
            f"model '{config.name}': version_policy.latest.num_versions must be >= 1"
        )
    return available[-count:]
