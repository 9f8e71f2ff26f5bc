"""Stage 1a: read an ONNX model, check it, and describe its inputs, outputs and ops."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import helper

from mlinfer.optimizer.errors import ModelCheckError, UnsupportedOpError

Dim = int | str  # a fixed size, or a symbolic / unknown dimension's name ("?" if unnamed)
_STANDARD_DOMAINS = ("", "ai.onnx", "ai.onnx.ml")
_ORT_MISSING_KERNEL = re.compile(
    r"Could not find an implementation for (\w+)\((\d+)\) node with name '([^']*)'"
)
_ORT_UNKNOWN_OP = re.compile(r"([\w.]*):(\w+)\(-?\d+\) is not a registered function/op")
_ORT_BAD_TYPE = re.compile(r"Type Error: (.*) of operator \((\w+)\) in node \(([^)]*)\)")


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dtype: np.dtype[Any]
    shape: tuple[Dim, ...]

    @property
    def dynamic_axes(self) -> tuple[int, ...]:
        return tuple(i for i, d in enumerate(self.shape) if not isinstance(d, int))

    def describe(self) -> str:
        dims = ", ".join(str(d) for d in self.shape)
        return f"{self.name}: {self.dtype.name}[{dims}]"


@dataclass(frozen=True)
class ModelInfo:
    path: Path
    opset: int
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    op_types: dict[str, int]
    nodes: int
    bytes: int

    @property
    def batched(self) -> bool:
        """Every input's first dimension is dynamic: samples can be stacked into batches."""
        return all(t.shape and not isinstance(t.shape[0], int) for t in self.inputs)

    @property
    def looks_like_transformer(self) -> bool:
        """Integer token inputs feeding MatMuls: dynamic INT8 suits it better than static."""
        ints = any(t.dtype.kind in "iu" for t in self.inputs)
        return ints and self.op_types.get("MatMul", 0) >= 4 and "Softmax" in self.op_types


def _tensor_info(value: onnx.ValueInfoProto) -> TensorInfo:
    tensor_type = value.type.tensor_type
    dims: list[Dim] = []
    for d in tensor_type.shape.dim:
        if d.HasField("dim_value"):
            dims.append(int(d.dim_value))
        else:
            dims.append(d.dim_param or "?")
    dtype = np.dtype(helper.tensor_dtype_to_np_dtype(tensor_type.elem_type))
    return TensorInfo(value.name, dtype, tuple(dims))


def load_model(path: Path) -> onnx.ModelProto:
    if not path.is_file():
        raise ModelCheckError(f"model file {path} does not exist")
    try:
        return onnx.load(str(path))
    except Exception as exc:  # onnx raises DecodeError and friends for a corrupt file
        raise ModelCheckError(f"{path} is not a readable ONNX model: {exc}") from None


def inspect_model(path: Path) -> ModelInfo:
    """Check ``path`` with onnx.checker and describe it; unknown ops name their node."""
    model = load_model(path)
    check_known_ops(model)
    try:
        onnx.checker.check_model(str(path))
    except onnx.checker.ValidationError as exc:
        raise ModelCheckError(f"{path} fails onnx.checker: {exc}") from None
    initializers = {i.name for i in model.graph.initializer}
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    return ModelInfo(
        path=path,
        opset=opset,
        inputs=tuple(_tensor_info(v) for v in model.graph.input if v.name not in initializers),
        outputs=tuple(_tensor_info(v) for v in model.graph.output),
        op_types=dict(Counter(n.op_type for n in model.graph.node)),
        nodes=len(model.graph.node),
        bytes=path.stat().st_size,
    )


def check_known_ops(model: onnx.ModelProto) -> None:
    """Every standard-domain node must be an op ONNX defines at the model's opset."""
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    for index, node in enumerate(model.graph.node):
        if node.domain not in _STANDARD_DOMAINS:
            continue
        domain = node.domain if node.domain != "ai.onnx" else ""
        try:
            onnx.defs.get_schema(node.op_type, opset, domain)
        except onnx.defs.SchemaError:
            name = node.name or f"#{index}"
            raise UnsupportedOpError(
                node.op_type, name, f"ONNX opset {opset}", "no such operator at this opset"
            ) from None


def ort_session_error(
    exc: Exception, path: Path, target: str = "ONNX Runtime's CPU provider"
) -> Exception:
    """Turn ONNX Runtime's 'cannot run this node' failures into errors naming op and node."""
    text = str(exc)
    found = _ORT_MISSING_KERNEL.search(text)
    if found:
        op, version, node = found.groups()
        return UnsupportedOpError(op, node, target, f"no kernel for opset {version} here")
    found = _ORT_BAD_TYPE.search(text)
    if found:
        detail, op, node = found.groups()
        return UnsupportedOpError(op, node, target, detail)
    found = _ORT_UNKNOWN_OP.search(text)
    if found:
        domain, op = found.groups()
        model = load_model(path)
        index, node_proto = next(
            ((i, n) for i, n in enumerate(model.graph.node) if n.op_type == op), (0, None)
        )
        name = (node_proto.name if node_proto is not None else "") or f"#{index}"
        return UnsupportedOpError(op, name, target, f"domain '{domain}' is not registered here")
    return exc
