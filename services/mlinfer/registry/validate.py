"""What makes an upload a model: the artifact parses in its format, the config parses."""

from __future__ import annotations

from pathlib import Path

from tritonclient.grpc import model_config_pb2 as mc

from mlinfer.core.errors import MLInferError
from mlinfer.core.model_config import parse_config
from mlinfer.registry.errors import BadRequestError

# format -> (model file name in a version directory, platforms its config may name)
FORMATS: dict[str, tuple[str, frozenset[str]]] = {
    "onnx": ("model.onnx", frozenset({"onnxruntime_onnx", "onnxruntime"})),
    "plan": ("model.plan", frozenset({"tensorrt_plan", "tensorrt"})),
    "torchscript": ("model.pt", frozenset({"pytorch_libtorch", "pytorch"})),
    "python": ("model.py", frozenset({"python"})),  # Triton's Python backend
}


def model_filename(fmt: str) -> str:
    return FORMATS[fmt][0]


def check_config(model: str, fmt: str, text: str) -> mc.ModelConfig:
    """Parse ``config.pbtxt`` text; its name (if any) and platform must fit the upload."""
    try:
        config = parse_config(text, "config.pbtxt")
    except MLInferError as exc:
        raise BadRequestError(f"config.pbtxt does not parse: {exc}") from None
    if config.name and config.name != model:
        raise BadRequestError(f"config.pbtxt names model '{config.name}', not '{model}'")
    platform = config.platform or config.backend
    allowed = FORMATS[fmt][1]
    if platform and platform not in allowed:
        raise BadRequestError(
            f"config.pbtxt platform '{platform}' does not fit format '{fmt}' "
            f"(expected one of {sorted(allowed)})"
        )
    return config


def check_artifact(path: Path, fmt: str) -> None:
    """Refuse what is not a model of ``fmt`` (onnx is fully checked; engines by size)."""
    if fmt not in FORMATS:
        raise BadRequestError(f"unknown format '{fmt}': use one of {sorted(FORMATS)}")
    if path.stat().st_size == 0:
        raise BadRequestError("the uploaded artifact is empty")
    if fmt == "onnx":
        _check_onnx(path)
    elif fmt == "python":
        _check_python(path)


def _check_python(path: Path) -> None:
    try:
        source = path.read_text(encoding="utf-8")
        compile(source, "model.py", "exec")
    except (UnicodeDecodeError, SyntaxError, ValueError) as exc:
        raise BadRequestError(f"the artifact is not a Python-backend model.py: {exc}") from None
    if "TritonPythonModel" not in source:
        raise BadRequestError("the artifact defines no TritonPythonModel class")


def _check_onnx(path: Path) -> None:
    import onnx
    from google.protobuf.message import DecodeError

    try:
        model = onnx.load(str(path), load_external_data=False)
        onnx.checker.check_model(model)
    except (DecodeError, onnx.checker.ValidationError, ValueError, RuntimeError) as exc:
        raise BadRequestError(f"the artifact is not a valid ONNX model: {exc}") from None
    if not model.graph.node:
        raise BadRequestError("the artifact is not a valid ONNX model: its graph has no nodes")
