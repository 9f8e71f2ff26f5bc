"""Turn an ONNX model repository into one the Triton bundled in nvidia-pytriton can serve.

That Triton has only the Python backend, so each ONNX model becomes a Python-backend model with
the same name, versions and config (inputs, outputs, max_batch_size, dynamic_batching,
instance_group forced to KIND_CPU, version_policy, labels, parameters). Each version folder gets
the original ``model.onnx`` plus a ``model.py`` (the template ``python_model_template.py``) that
runs it with ONNX Runtime inside the Python backend stub.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as mc

CONFIG_FILENAME = "config.pbtxt"
ONNX_FILENAME = "model.onnx"
PYTHON_MODEL_FILENAME = "model.py"
TEMPLATE_PATH = Path(__file__).with_name("python_model_template.py")

_ONNX_PLATFORMS = frozenset({"onnxruntime_onnx"})
_ONNX_BACKENDS = frozenset({"onnxruntime"})


def python_model_source() -> str:
    """Source of the generated ``model.py`` (the template beside this module)."""
    return TEMPLATE_PATH.read_text(encoding="utf-8")


def load_model_config(path: Path) -> mc.ModelConfig:
    """Parse a ``config.pbtxt`` into ``ModelConfig``."""
    config = mc.ModelConfig()
    text_format.Parse(path.read_text(encoding="utf-8"), config)
    return config


def _is_onnx(config: mc.ModelConfig, model_dir: Path) -> bool:
    if config.platform in _ONNX_PLATFORMS or config.backend in _ONNX_BACKENDS:
        return True
    if config.platform or config.backend:
        return False
    # Neither set: Triton would infer the platform from the model file name.
    filename = config.default_model_filename or ONNX_FILENAME
    return any((d / filename).exists() for d in _version_dirs(model_dir))


def to_python_backend_config(config: mc.ModelConfig, name: str) -> mc.ModelConfig:
    """A copy of an ONNX model's config that serves it through the Python backend."""
    converted = mc.ModelConfig()
    converted.CopyFrom(config)
    converted.name = name
    converted.platform = ""
    converted.backend = "python"
    # For the Python backend default_model_filename names the .py file: use the default.
    converted.ClearField("default_model_filename")
    # Execution accelerators / graph levels are ONNX Runtime backend settings.
    converted.ClearField("optimization")
    for group in converted.instance_group:
        group.kind = mc.ModelInstanceGroup.Kind.KIND_CPU
        del group.gpus[:]
    return converted


def _version_dirs(model_dir: Path) -> list[Path]:
    return sorted(
        (p for p in model_dir.iterdir() if p.is_dir() and p.name.isdigit()),
        key=lambda p: int(p.name),
    )


def _copy_item(src: Path, dst: Path) -> None:
    if src.is_dir():
        shutil.copytree(src, dst, dirs_exist_ok=True)
    else:
        shutil.copy2(src, dst)


def _write_config(config: mc.ModelConfig, path: Path) -> None:
    path.write_text(text_format.MessageToString(config), encoding="utf-8")


def _convert_model(model_dir: Path, dest: Path, template: str) -> None:
    config_path = model_dir / CONFIG_FILENAME
    if not config_path.is_file():
        raise ValueError(f"{model_dir} has no {CONFIG_FILENAME}")
    config = load_model_config(config_path)
    name = model_dir.name
    if config.name and config.name != name:
        raise ValueError(f"{config_path}: name '{config.name}' does not match folder '{name}'")
    versions = _version_dirs(model_dir)

    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    # Labels files and anything else beside config.pbtxt travel as they are.
    for item in sorted(model_dir.iterdir()):
        if item.name == CONFIG_FILENAME or item in versions:
            continue
        _copy_item(item, dest / item.name)

    if not _is_onnx(config, model_dir):
        # Ensembles and models already on the Python backend are copied unchanged; anything
        # else (TensorRT, PyTorch, ...) this Triton cannot run.
        if config.platform != "ensemble" and config.backend != "python":
            kind = config.platform or config.backend or "unknown"
            raise ValueError(f"{config_path}: cannot serve platform/backend '{kind}'")
        shutil.copy2(config_path, dest / CONFIG_FILENAME)
        for version in versions:
            _copy_item(version, dest / version.name)
        return

    if not versions:
        raise ValueError(f"{model_dir} has no numeric version folder")
    filename = config.default_model_filename or ONNX_FILENAME
    for version in versions:
        source_model = version / filename
        if not source_model.exists():
            raise ValueError(f"{source_model} not found")
        out_version = dest / version.name
        # Whole folder: ONNX external-data files sit beside the model.
        shutil.copytree(version, out_version)
        if filename != ONNX_FILENAME:
            (out_version / filename).rename(out_version / ONNX_FILENAME)
        (out_version / PYTHON_MODEL_FILENAME).write_text(template, encoding="utf-8")
    _write_config(to_python_backend_config(config, name), dest / CONFIG_FILENAME)


def write_python_backend_repository(
    onnx_repository: Path,
    out: Path,
    models: Sequence[str] | None = None,
) -> list[str]:
    """Write into ``out`` a Python-backend twin of the ONNX repository ``onnx_repository``.

    ``onnx_repository`` has Triton's layout (``<model>/config.pbtxt``,
    ``<model>/<version>/model.onnx``, optional labels files). ``models`` restricts the conversion
    to those names (default: every model folder). Existing model folders in ``out`` are
    replaced. Return the names of the models written, sorted.
    """
    source = Path(onnx_repository)
    target = Path(out)
    if not source.is_dir():
        raise FileNotFoundError(f"model repository {source} is not a directory")
    if source.resolve() == target.resolve():
        raise ValueError("out must differ from onnx_repository")
    if models is None:
        model_dirs = sorted(
            p for p in source.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))
        )
    else:
        model_dirs = [source / name for name in models]
        missing = [str(p) for p in model_dirs if not p.is_dir()]
        if missing:
            raise FileNotFoundError(f"model folders not found: {missing}")
    template = python_model_source()
    target.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    for model_dir in model_dirs:
        _convert_model(model_dir, target / model_dir.name, template)
        written.append(model_dir.name)
    return sorted(written)
