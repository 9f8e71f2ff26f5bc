"""Stage 7: a Triton version folder for the chosen candidate, written atomically.

The model's config.pbtxt is the source's (inputs, outputs, ``max_batch_size``,
``dynamic_batching``, label files carried over) with the platform of the published file. The
version folder is assembled under a dot-named temporary directory (Triton and mlinfer ignore
non-numeric names) and renamed into place, so a poller never sees half a version.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as mc

from mlinfer.core import datatypes
from mlinfer.core.errors import MLInferError
from mlinfer.core.model_config import read_config
from mlinfer.optimizer.errors import ConfigError
from mlinfer.optimizer.inspect import ModelInfo
from mlinfer.optimizer.source import SourceModel

PLATFORMS = {".onnx": ("onnxruntime_onnx", "model.onnx"), ".plan": ("tensorrt_plan", "model.plan")}
# Parameters that only the embedded ONNX Runtime engine reads.
_ORT_ONLY_PARAMETERS = ("intra_op_thread_count", "inter_op_thread_count", "execution_mode")


def _config_from_info(name: str, info: ModelInfo, max_batch_size: int) -> mc.ModelConfig:
    config = mc.ModelConfig(name=name, max_batch_size=max_batch_size)
    for tensors, target in ((info.inputs, config.input), (info.outputs, config.output)):
        for t in tensors:
            dims = t.shape[1:] if max_batch_size > 0 else t.shape
            entry = target.add()
            entry.name = t.name
            entry.data_type = datatypes.from_numpy(t.dtype).config
            entry.dims.extend(d if isinstance(d, int) else -1 for d in dims)
    return config


def published_config(
    source: SourceModel, info: ModelInfo, name: str, suffix: str, precision: str
) -> mc.ModelConfig:
    platform, filename = PLATFORMS[suffix]
    if source.config is not None:
        config = mc.ModelConfig()
        config.CopyFrom(source.config)
    else:
        config = _config_from_info(name, info, 0)
    config.name = name
    config.platform = platform
    config.ClearField("backend")
    config.default_model_filename = filename if filename != "model.onnx" else ""
    if platform == "tensorrt_plan":
        for key in _ORT_ONLY_PARAMETERS:
            if key in config.parameters:
                del config.parameters[key]
        for group in config.instance_group:
            if group.kind == mc.ModelInstanceGroup.KIND_CPU:
                group.kind = mc.ModelInstanceGroup.KIND_GPU
    config.parameters["optimized_precision"].string_value = precision
    return config


def next_version(model_dir: Path) -> int:
    versions = (
        [int(p.name) for p in model_dir.iterdir() if p.is_dir() and p.name.isdigit()]
        if (model_dir.is_dir())
        else []
    )
    return max(versions, default=0) + 1


def publish(
    repository: Path,
    name: str,
    model_file: Path,
    config: mc.ModelConfig,
    *,
    source: SourceModel,
    extra_files: Mapping[str, bytes],
    version: int | None = None,
) -> Path:
    """Write ``<repository>/<name>/<version>/``; return the version folder."""
    model_dir = repository / name
    existing = model_dir / "config.pbtxt"
    if existing.is_file():
        try:
            current = read_config(model_dir)
        except MLInferError as exc:
            raise ConfigError(f"cannot publish into {model_dir}: {exc}") from None
        if current.platform and current.platform != config.platform:
            raise ConfigError(
                f"{model_dir} serves platform '{current.platform}'; a '{config.platform}' "
                f"version cannot share its config.pbtxt: publish under another --name"
            )
    version = version or next_version(model_dir)
    final = model_dir / str(version)
    if final.exists():
        raise ConfigError(f"version {version} of '{name}' already exists at {final}")
    model_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".publish-", dir=model_dir))
    try:
        shutil.copyfile(model_file, staging / PLATFORMS[model_file.suffix][1])
        for filename, data in extra_files.items():
            (staging / filename).write_bytes(data)
        if source.directory is not None:
            for output in config.output:
                label = output.label_filename
                if label and not (model_dir / label).exists():
                    shutil.copyfile(source.directory / label, model_dir / label)
        text = text_format.MessageToString(config)
        config_tmp = model_dir / ".config.pbtxt.tmp"
        config_tmp.write_text(text, encoding="utf-8")
        os.replace(config_tmp, existing)
        os.rename(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final
