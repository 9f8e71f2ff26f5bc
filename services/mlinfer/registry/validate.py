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
    try:
        import onnx
    except ImportError:  # the appliance image has no onnx: check the protobuf structure
        check_onnx_wire_format(path.read_bytes())
        return
    from google.protobuf.message import DecodeError

    try:
        model = onnx.load(str(path), load_external_data=False)
        onnx.checker.check_model(model)
    except (DecodeError, onnx.checker.ValidationError, ValueError, RuntimeError) as exc:
        raise BadRequestError(f"the artifact is not a valid ONNX model: {exc}") from None
    if not model.graph.node:
        raise BadRequestError("the artifact is not a valid ONNX model: its graph has no nodes")


def check_onnx_wire_format(data: bytes) -> None:
    """Without the onnx package: the bytes are a protobuf message with ModelProto's
    ``ir_version`` (field 1, varint) and a non-empty ``graph`` (field 7, bytes)."""
    fields = _wire_fields(data, "model")
    if fields.get(1) != 0 or 7 not in fields:
        raise BadRequestError(
            "the artifact is not a valid ONNX model: no ir_version and graph fields"
        )


def _wire_fields(data: bytes, what: str) -> dict[int, int]:
    """Field number -> wire type of each top-level field; raises on malformed bytes."""
    fields: dict[int, int] = {}
    pos, end = 0, len(data)
    while pos < end:
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise BadRequestError(f"the artifact is not a valid ONNX {what}: field number 0")
        if wire == 0:
            _, pos = _varint(data, pos)
        elif wire == 1:
            pos += 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            pos += length
        elif wire == 5:
            pos += 4
        else:
            raise BadRequestError(f"the artifact is not a valid ONNX {what}: wire type {wire}")
        if pos > end:
            raise BadRequestError(f"the artifact is not a valid ONNX {what}: truncated")
        fields[number] = wire
    return fields


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while pos < len(data) and shift < 64:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
    raise BadRequestError("the artifact is not a valid ONNX model: truncated varint")
