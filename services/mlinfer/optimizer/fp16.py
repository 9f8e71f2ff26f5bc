"""Stage 2: the FP16 candidate (onnxconverter-common), inputs and outputs kept FP32.

Keeping the I/O FP32 means clients and config.pbtxt do not change; the converter inserts the
casts. Ops on the block list stay FP32 (the converter's default list holds the ops whose
FP16 kernels are missing or unstable, e.g. Resize, NonMaxSuppression, TopK).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import onnx

from mlinfer.optimizer.config import Fp16Options
from mlinfer.optimizer.errors import OptimizerError
from mlinfer.optimizer.inspect import load_model


def _retype_casts(model: onnx.ModelProto) -> onnx.ModelProto:
    """A Cast into FLOAT whose output the converter made FLOAT16 (e.g. BERT's attention mask,
    int64 -> float) keeps ``to=FLOAT`` in onnxconverter-common 1.16: make it cast to FLOAT16,
    as the tensor it writes is now declared."""
    declared = {
        v.name: v.type.tensor_type.elem_type for v in (*model.graph.value_info, *model.graph.output)
    }
    for node in model.graph.node:
        if node.op_type != "Cast" or declared.get(node.output[0]) != onnx.TensorProto.FLOAT16:
            continue
        for attribute in node.attribute:
            if attribute.name == "to" and attribute.i == onnx.TensorProto.FLOAT:
                attribute.i = onnx.TensorProto.FLOAT16
    return model


def convert_fp16(source: Path, target: Path, options: Fp16Options) -> Path:
    from onnxconverter_common import float16

    def convert() -> onnx.ModelProto:
        with warnings.catch_warnings():  # one warning per clamped weight: thousands
            warnings.simplefilter("ignore", UserWarning)
            converted: onnx.ModelProto = float16.convert_float_to_float16(
                load_model(source),
                keep_io_types=True,
                op_block_list=(
                    list(options.op_block_list) if options.op_block_list is not None else None
                ),
                node_block_list=list(options.node_block_list) or None,
            )
            return converted

    try:
        model = _retype_casts(convert())
        onnx.checker.check_model(model, full_check=True)  # types too: ORT would refuse
    except (
        AttributeError,
        onnx.checker.ValidationError,
        onnx.shape_inference.InferenceError,
    ) as exc:
        # e.g. onnxconverter-common 1.16 when a blocked op reads a graph input directly
        raise OptimizerError(
            f"onnxconverter-common could not convert this model to FP16 with block list "
            f"{options.op_block_list}: {type(exc).__name__}: {exc}"
        ) from None
    onnx.save(model, str(target))
    return target
