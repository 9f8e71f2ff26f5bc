"""Which quantized nodes cost the most accuracy: the gate's automatic fallback excludes them.

Both models run on the same few samples with every intermediate tensor exposed. A node's local
damage is how much SQNR its output loses relative to its (already degraded) inputs: ranking by
the output's SQNR alone would blame every node downstream of the first bad one.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from mlinfer.optimizer.data import Dataset
from mlinfer.optimizer.inspect import load_model
from mlinfer.optimizer.runner import open_session

_QUANT_OPS = ("DequantizeLinear", "DynamicQuantizeLinear", "MatMulInteger", "ConvInteger")
_CLEAN_DB = 120.0  # SQNR of an exact input: caps the drop computed for graph inputs


@dataclass(frozen=True)
class NodeDamage:
    node: str
    op_type: str
    output_sqnr_db: float
    drop_db: float


def quantized_nodes(quantized: onnx.ModelProto) -> set[str]:
    """Names of float-model nodes that the quantizer touched (fed by DQ, or replaced)."""
    produced_by = {out: n for n in quantized.graph.node for out in n.output}
    touched = set()
    for node in quantized.graph.node:
        if node.op_type in _QUANT_OPS:
            continue
        if any(getattr(produced_by.get(i), "op_type", "") in _QUANT_OPS for i in node.input):
            touched.add(node.name)
    # dynamic quantization renames a MatMul into '<name>_quant' nodes
    touched |= {
        n.name.removesuffix("_quant") for n in quantized.graph.node if n.name.endswith("_quant")
    }
    return touched


def _expose(model: onnx.ModelProto, names: Iterable[str], path: Path) -> None:
    existing = {o.name for o in model.graph.output}
    for name in names:
        if name not in existing:
            model.graph.output.append(onnx.ValueInfoProto(name=name))
    onnx.save(model, str(path))


def _float_tensors(model: onnx.ModelProto) -> set[str]:
    inferred = onnx.shape_inference.infer_shapes(model)
    types = {
        v.name: v.type.tensor_type.elem_type
        for v in (*inferred.graph.value_info, *inferred.graph.output)
    }
    return {n for n, t in types.items() if t == onnx.TensorProto.FLOAT}


def _measured_output(
    node: onnx.NodeProto, sqnr: dict[str, float], consumers: dict[str, list[onnx.NodeProto]]
) -> str | None:
    """The node's output, or where the quantizer folded it away (a Conv's Relu), the output
    of its only consumer: the first tensor both models still have."""
    for _ in range(3):
        if not node.output:
            return None
        if node.output[0] in sqnr:
            return node.output[0]
        following = consumers.get(node.output[0], [])
        if len(following) != 1:
            return None
        node = following[0]
    return None


def node_damage(
    float_path: Path,
    quant_path: Path,
    dataset: Dataset,
    skip: Iterable[str] = (),
    *,
    every_node: bool = False,
) -> list[NodeDamage]:
    """Quantized nodes ranked most damaging first (``skip``: already excluded ones).
    ``every_node``: rank every node both models have (an FP16 model converts them all)."""
    reference_model, quant_model = load_model(float_path), load_model(quant_path)
    quant_outputs = {o for n in quant_model.graph.node for o in n.output}
    compared = sorted(_float_tensors(reference_model) & quant_outputs)
    signal = dict.fromkeys(compared, 0.0)
    noise = dict.fromkeys(compared, 0.0)
    with tempfile.TemporaryDirectory(prefix="mlinfer-sensitivity-") as tmp:
        ref_path, q_path = Path(tmp) / "ref.onnx", Path(tmp) / "q.onnx"
        _expose(reference_model, compared, ref_path)
        _expose(load_model(quant_path), compared, q_path)
        ref_session = open_session(ref_path, extra_outputs=True)
        q_session = open_session(q_path, extra_outputs=True)
        for feeds in dataset.batches(1):
            refs = ref_session.run(compared, feeds)
            quants = q_session.run(compared, feeds)
            for name, r, q in zip(compared, refs, quants, strict=True):
                r64 = np.asarray(r, np.float64)
                signal[name] += float(np.sum(r64 * r64))
                noise[name] += float(np.sum((r64 - np.asarray(q, np.float64)) ** 2))
    sqnr = {
        n: _CLEAN_DB
        if noise[n] <= 1e-20
        else min(_CLEAN_DB, 10 * math.log10(max(signal[n], 1e-20) / noise[n]))
        for n in compared
    }
    touched = (
        {n.name for n in quant_model.graph.node} if every_node else quantized_nodes(quant_model)
    ) - set(skip)
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in reference_model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    ranked = []
    for node in reference_model.graph.node:
        measured = _measured_output(node, sqnr, consumers)
        if node.name not in touched or measured is None:
            continue
        inputs = [sqnr.get(i, _CLEAN_DB) for i in node.input if i in sqnr] or [_CLEAN_DB]
        out = sqnr[measured]
        ranked.append(NodeDamage(node.name, node.op_type, out, min(inputs) - out))
    ranked.sort(key=lambda d: d.drop_db, reverse=True)
    return ranked
