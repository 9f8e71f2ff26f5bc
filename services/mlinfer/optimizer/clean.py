"""Stage 1b: the FP32 candidate: simplified (onnxslim), shapes inferred, checked again.

Shape inference uses ONNX Runtime's quantization pre-processing (symbolic shape inference,
which resolves transformer shapes plain ONNX inference leaves unknown, then ONNX Runtime's
basic graph optimizations): a tensor whose shape is unknown cannot be quantized.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import onnx

from mlinfer.optimizer.errors import ModelCheckError
from mlinfer.optimizer.inspect import load_model

_log = logging.getLogger(__name__)


def simplify(model: onnx.ModelProto) -> onnx.ModelProto:
    """Constant folding, dead-node removal and pattern fusions from onnxslim."""
    import onnxslim

    slimmed = onnxslim.slim(model)
    if not isinstance(slimmed, onnx.ModelProto):
        raise ModelCheckError("onnxslim returned no model")
    return slimmed


def name_nodes(model: onnx.ModelProto) -> onnx.ModelProto:
    """Give every node a unique name: exclusion lists and error messages refer to nodes by it."""
    seen: set[str] = set()
    for index, node in enumerate(model.graph.node):
        if not node.name or node.name in seen:
            node.name = f"{node.op_type}_{index}"
        seen.add(node.name)
    return model


def infer_shapes(source: Path, target: Path) -> None:
    from onnxruntime.quantization.shape_inference import quant_pre_process

    try:
        quant_pre_process(str(source), str(target), auto_merge=True)
    except Exception as exc:  # symbolic inference gives up on some graphs: keep ONNX's own
        _log.warning("symbolic shape inference failed (%s); using ONNX shape inference", exc)
        model = onnx.shape_inference.infer_shapes(load_model(source))
        onnx.save(model, str(target))


def clean_model(source: Path, target: Path, *, slim: bool = True) -> Path:
    """Write the cleaned FP32 model for ``source`` to ``target``; return ``target``."""
    model = load_model(source)
    if slim:
        model = simplify(model)
    with tempfile.TemporaryDirectory(prefix="mlinfer-clean-") as tmp:
        slimmed = Path(tmp) / "slim.onnx"
        onnx.save(model, str(slimmed))
        infer_shapes(slimmed, target)
    onnx.save(name_nodes(load_model(target)), str(target))
    try:
        onnx.checker.check_model(str(target))
    except onnx.checker.ValidationError as exc:
        raise ModelCheckError(f"the cleaned model fails onnx.checker: {exc}") from None
    return target
