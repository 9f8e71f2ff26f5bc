"""The sample models: a trained digits classifier, a CNN, a text encoder, add/sub, identities."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from numpy.typing import NDArray
from onnx import TensorProto

from mlinfer.samples.graph import FLOAT, INT32, INT64, GraphBuilder


@dataclass(frozen=True)
class SampleModel:
    name: str
    onnx_model: onnx.ModelProto
    config: str  # config.pbtxt text
    files: dict[str, str]  # extra files beside config.pbtxt (labels)


def digits_classifier() -> SampleModel:
    """An MLP trained on scikit-learn's bundled 8x8 digits: a real, testable accuracy."""
    from sklearn.datasets import load_digits
    from sklearn.neural_network import MLPClassifier

    x_train, y_train, _, _ = digits_split()
    clf = MLPClassifier(hidden_layer_sizes=(64,), max_iter=400, random_state=0)
    clf.fit(x_train, y_train)
    g = GraphBuilder("digits", seed=0)
    x = g.input("pixels", FLOAT, ["batch", 64])
    (w1, w2), (b1, b2) = clf.coefs_, clf.intercepts_
    h = g.op(
        "Relu",
        [
            g.op(
                "Add",
                [
                    g.op("MatMul", [x, g.const(w1.astype(np.float32))]),
                    g.const(b1.astype(np.float32)),
                ],
            )
        ],
    )
    logits = g.op(
        "Add", [g.op("MatMul", [h, g.const(w2.astype(np.float32))]), g.const(b2.astype(np.float32))]
    )
    g.op("Softmax", [logits], "probabilities", axis=1)
    g.output("probabilities", FLOAT, ["batch", 10])
    del load_digits
    labels = "\n".join(str(int(c)) for c in clf.classes_) + "\n"
    config = """name: "digits"
platform: "onnxruntime_onnx"
max_batch_size: 64
input [ { name: "pixels" data_type: TYPE_FP32 dims: [ 64 ] } ]
output [ { name: "probabilities" data_type: TYPE_FP32 dims: [ 10 ] label_filename: "labels.txt" } ]
dynamic_batching { max_queue_delay_microseconds: 500 }
instance_group [ { count: 1 kind: KIND_CPU } ]
response_cache { enable: true }
parameters {
  key: "description"
  value { string_value: "MLP trained on scikit-learn digits (8x8 pixels, 0..16 scaled to 0..1)" }
}
"""
    return SampleModel("digits", g.model(), config, {"labels.txt": labels})


def digits_split() -> tuple[NDArray[Any], NDArray[Any], NDArray[Any], NDArray[Any]]:
    """Deterministic train/test split of the digits data set, pixels scaled to 0..1."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    x = (data.data / 16.0).astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(
        x, data.target, test_size=0.25, random_state=0, stratify=data.target
    )
    return x_train, y_train, x_test, y_test


def image_cnn() -> SampleModel:
    """A small CNN over 3x32x32 images: two conv blocks, global pooling, 10 classes."""
    g = GraphBuilder("image_cnn", seed=1)
    x = g.input("image", FLOAT, ["batch", 3, 32, 32])
    c = x
    for cin, cout in ((3, 16), (16, 32)):
        c = g.op(
            "Conv",
            [c, g.weight((cout, cin, 3, 3), cin * 9), g.const(np.zeros(cout, np.float32))],
            pads=[1, 1, 1, 1],
        )
        c = g.op("MaxPool", [g.op("Relu", [c])], kernel_shape=[2, 2], strides=[2, 2])
    pooled = g.op("Flatten", [g.op("GlobalAveragePool", [c])])
    logits = g.op("Gemm", [pooled, g.weight((32, 10), 32), g.const(np.zeros(10, np.float32))])
    g.op("Softmax", [logits], "probabilities", axis=1)
    g.output("probabilities", FLOAT, ["batch", 10])
    labels = "\n".join(f"class_{i}" for i in range(10)) + "\n"
    config = """name: "image_cnn"
platform: "onnxruntime_onnx"
max_batch_size: 32
input [ { name: "image" data_type: TYPE_FP32 format: FORMAT_NCHW dims: [ 3, 32, 32 ] } ]
output [ { name: "probabilities" data_type: TYPE_FP32 dims: [ 10 ] label_filename: "labels.txt" } ]
dynamic_batching {
  preferred_batch_size: [ 8, 16 ]
  max_queue_delay_microseconds: 2000
  priority_levels: 2
  default_priority_level: 2
}
instance_group [ { count: 2 kind: KIND_CPU } ]
model_warmup [
  {
    name: "zeros"
    batch_size: 1
    inputs {
      key: "image"
      value { data_type: TYPE_FP32 dims: [ 3, 32, 32 ] zero_data: true }
    }
  }
]
response_cache { enable: true }
parameters { key: "intra_op_thread_count" value { string_value: "1" } }
parameters { key: "image_resize" value { string_value: "stretch" } }
parameters { key: "image_postprocess" value { string_value: "classification" } }
parameters { key: "classification_top_k" value { string_value: "3" } }
"""
    return SampleModel("image_cnn", g.model(), config, {"labels.txt": labels})


def text_encoder(vocab: int = 1000, width: int = 32, max_len: int = 64) -> SampleModel:
    """One transformer-encoder layer (self-attention + FFN, post-LN) over INT64 token ids."""
    g = GraphBuilder("text_encoder", seed=2)
    ids = g.input("input_ids", INT64, ["batch", "sequence"])
    mask = g.input("attention_mask", INT64, ["batch", "sequence"])
    emb = g.op("Gather", [g.weight((vocab, width), width, "tok_emb"), ids])
    seq_len = g.op("Gather", [g.op("Shape", [ids]), g.const(np.array(1, np.int64))])
    positions = g.op(
        "Range", [g.const(np.array(0, np.int64)), seq_len, g.const(np.array(1, np.int64))]
    )
    h = g.op(
        "Add", [emb, g.op("Gather", [g.weight((max_len, width), width, "pos_emb"), positions])]
    )
    maskf = g.op("Cast", [mask], to=TensorProto.FLOAT)
    # Additive attention mask: 0 where attended, -1e4 on padding: [B,1,S].
    bias = g.op(
        "Mul",
        [
            g.op("Sub", [g.const(np.array(1.0, np.float32)), maskf]),
            g.const(np.array(-1e4, np.float32)),
        ],
    )
    bias = g.op("Unsqueeze", [bias, g.const(np.array([1], np.int64))])
    q, k, v = (g.op("MatMul", [h, g.weight((width, width), width, n)]) for n in "qkv")
    scores = g.op(
        "Div",
        [
            g.op("MatMul", [q, g.op("Transpose", [k], perm=[0, 2, 1])]),
            g.const(np.array(np.sqrt(width), np.float32)),
        ],
    )
    attn = g.op("Softmax", [g.op("Add", [scores, bias])], axis=-1)
    ctx = g.op("MatMul", [g.op("MatMul", [attn, v]), g.weight((width, width), width, "o")])
    h = _layer_norm(g, g.op("Add", [h, ctx]), width)
    ffn = g.op(
        "MatMul",
        [
            g.op("Relu", [g.op("MatMul", [h, g.weight((width, 4 * width), width)])]),
            g.weight((4 * width, width), 4 * width),
        ],
    )
    h = _layer_norm(g, g.op("Add", [h, ffn]), width)
    # Masked mean pooling -> sentence embedding [B, width].
    m3 = g.op("Unsqueeze", [maskf, g.const(np.array([2], np.int64))])
    summed = g.op("ReduceSum", [g.op("Mul", [h, m3]), g.const(np.array([1], np.int64))], keepdims=0)
    count = g.op(
        "Max",
        [
            g.op("ReduceSum", [m3, g.const(np.array([1], np.int64))], keepdims=0),
            g.const(np.array(1.0, np.float32)),
        ],
    )
    g.op("Div", [summed, count], "embedding")
    g.op(
        "Gemm",
        ["embedding", g.weight((width, 2), width), g.const(np.zeros(2, np.float32))],
        "logits",
    )
    g.output("embedding", FLOAT, ["batch", width])
    g.output("logits", FLOAT, ["batch", 2])
    config = f"""name: "text_encoder"
platform: "onnxruntime_onnx"
max_batch_size: 16
input [
  {{ name: "input_ids" data_type: TYPE_INT64 dims: [ -1 ] }},
  {{ name: "attention_mask" data_type: TYPE_INT64 dims: [ -1 ] }}
]
output [
  {{ name: "embedding" data_type: TYPE_FP32 dims: [ {width} ] }},
  {{ name: "logits" data_type: TYPE_FP32 dims: [ 2 ] }}
]
dynamic_batching {{ max_queue_delay_microseconds: 1000 }}
instance_group [ {{ count: 1 kind: KIND_CPU }} ]
parameters {{ key: "max_sequence_length" value {{ string_value: "{max_len}" }} }}
parameters {{ key: "vocabulary_size" value {{ string_value: "{vocab}" }} }}
"""
    return SampleModel("text_encoder", g.model(), config, {})


def _layer_norm(g: GraphBuilder, x: str, width: int) -> str:
    return g.op(
        "LayerNormalization",
        [x, g.const(np.ones(width, np.float32)), g.const(np.zeros(width, np.float32))],
        axis=-1,
    )


def simple_add_sub() -> SampleModel:
    """Triton's classic ``simple`` model: OUTPUT0 = INPUT0 + INPUT1, OUTPUT1 = INPUT0 - INPUT1."""
    g = GraphBuilder("simple")
    a = g.input("INPUT0", INT32, ["batch", 16])
    b = g.input("INPUT1", INT32, ["batch", 16])
    g.op("Add", [a, b], "OUTPUT0")
    g.op("Sub", [a, b], "OUTPUT1")
    g.output("OUTPUT0", INT32, ["batch", 16])
    g.output("OUTPUT1", INT32, ["batch", 16])
    config = """name: "simple"
platform: "onnxruntime_onnx"
max_batch_size: 8
input [
  { name: "INPUT0" data_type: TYPE_INT32 dims: [ 16 ] },
  { name: "INPUT1" data_type: TYPE_INT32 dims: [ 16 ] }
]
output [
  { name: "OUTPUT0" data_type: TYPE_INT32 dims: [ 16 ] },
  { name: "OUTPUT1" data_type: TYPE_INT32 dims: [ 16 ] }
]
"""
    return SampleModel("simple", g.model(), config, {})


# Triton datatype -> (ONNX element type, config type), for identity models.
IDENTITY_TYPES = {
    "BOOL": (TensorProto.BOOL, "TYPE_BOOL"),
    "INT8": (TensorProto.INT8, "TYPE_INT8"),
    "INT16": (TensorProto.INT16, "TYPE_INT16"),
    "INT32": (TensorProto.INT32, "TYPE_INT32"),
    "INT64": (TensorProto.INT64, "TYPE_INT64"),
    "UINT8": (TensorProto.UINT8, "TYPE_UINT8"),
    "UINT16": (TensorProto.UINT16, "TYPE_UINT16"),
    "UINT32": (TensorProto.UINT32, "TYPE_UINT32"),
    "UINT64": (TensorProto.UINT64, "TYPE_UINT64"),
    "FP16": (TensorProto.FLOAT16, "TYPE_FP16"),
    "FP32": (TensorProto.FLOAT, "TYPE_FP32"),
    "FP64": (TensorProto.DOUBLE, "TYPE_FP64"),
    "BYTES": (TensorProto.STRING, "TYPE_STRING"),
}


def identity(datatype: str, max_batch_size: int = 8) -> SampleModel:
    """``identity_<dtype>``: OUTPUT0 = INPUT0, variable-length vectors, for protocol tests."""
    elem, config_type = IDENTITY_TYPES[datatype]
    name = f"identity_{datatype.lower()}"
    g = GraphBuilder(name)
    x = g.input("INPUT0", elem, ["batch", "n"])
    g.op("Identity", [x], "OUTPUT0")
    g.output("OUTPUT0", elem, ["batch", "n"])
    config = f"""name: "{name}"
platform: "onnxruntime_onnx"
max_batch_size: {max_batch_size}
input [ {{ name: "INPUT0" data_type: {config_type} dims: [ -1 ] }} ]
output [ {{ name: "OUTPUT0" data_type: {config_type} dims: [ -1 ] }} ]
"""
    return SampleModel(name, g.model(), config, {})


def identity_fp32() -> SampleModel:
    return identity("FP32")


# What ``mlinfer models generate`` writes into the sample repository.
SAMPLE_BUILDERS = (digits_classifier, image_cnn, text_encoder, simple_add_sub, identity_fp32)
