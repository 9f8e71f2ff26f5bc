"""BERT-base (encoder + pooler) with seeded random weights, as the Hugging Face export lays it out.

Inputs ``input_ids``, ``attention_mask``, ``token_type_ids`` INT64 [N, S]; output
``pooled_output`` FP32 [N, hidden] (tanh(W . h[CLS] + b)). Embeddings (word, position,
token type) + LayerNorm, then ``layers`` post-LN encoder layers (multi-head self-attention
with the additive padding mask, GELU feed-forward). The sequence length is dynamic in the
graph; the benchmark config fixes it (128).
"""

from __future__ import annotations

import numpy as np

from bench.layers import NetBuilder, Network
from mlinfer.samples.graph import FLOAT, INT64

INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT_NAME = "pooled_output"


def bert(
    layers: int = 12,
    hidden: int = 768,
    heads: int = 12,
    intermediate: int | None = None,
    vocab: int = 30522,
    max_positions: int = 512,
    sequence: int = 128,
    seed: int = 12,
) -> Network:
    """BERT-base by default (110M parameters, ~11 GMACs per sequence of 128 tokens).

    ``sequence`` only sets the MAC count reported; the graph takes any length up to
    ``max_positions``.
    """
    if hidden % heads:
        raise ValueError(f"hidden ({hidden}) must be a multiple of heads ({heads})")
    inner = intermediate or 4 * hidden
    head_dim = hidden // heads
    g = NetBuilder("bert", seed)
    ids, mask, types = (g.input(name, INT64, ["batch", "sequence"]) for name in INPUT_NAMES)

    # Embeddings: word + position + token type, LayerNorm.
    seq_len = g.op("Gather", [g.op("Shape", [ids]), g.scalar(1, np.int64)])
    positions = g.op("Range", [g.scalar(0, np.int64), seq_len, g.scalar(1, np.int64)])
    h = g.op(
        "Add",
        [
            g.op(
                "Add",
                [
                    g.op("Gather", [g.randn((vocab, hidden), 0.02, "word_emb"), ids]),
                    g.op("Gather", [g.randn((max_positions, hidden), 0.02, "pos_emb"), positions]),
                ],
            ),
            g.op("Gather", [g.randn((2, hidden), 0.02, "type_emb"), types]),
        ],
    )
    h = _layer_norm(g, h, hidden)

    # Additive mask [N, 1, 1, S]: 0 where attended, -10000 on padding.
    maskf = g.op("Cast", [mask], to=1)  # FLOAT
    bias = g.op("Mul", [g.op("Sub", [g.scalar(1.0), maskf]), g.scalar(-10000.0)])
    bias = g.op("Unsqueeze", [bias, g.ints(1, 2)])

    for _ in range(layers):
        h = _encoder_layer(g, h, bias, hidden, heads, head_dim, inner, sequence)

    first = g.op("Gather", [h, g.scalar(0, np.int64)], axis=1)  # [N, hidden]: the [CLS] token
    g.macs += hidden * hidden
    pooled = g.op("Gemm", [first, g.randn((hidden, hidden), 0.02), g.bias(hidden)])
    g.op("Tanh", [pooled], OUTPUT_NAME)
    g.output(OUTPUT_NAME, FLOAT, ["batch", hidden])
    return g.network()


def _encoder_layer(
    g: NetBuilder,
    h: str,
    bias: str,
    hidden: int,
    heads: int,
    head_dim: int,
    inner: int,
    sequence: int,
) -> str:
    def split_heads(x: str, perm: list[int]) -> str:
        return g.op("Transpose", [g.op("Reshape", [x, g.ints(0, 0, heads, head_dim)])], perm=perm)

    q = split_heads(g.linear(h, hidden, hidden, sequence), [0, 2, 1, 3])  # [N, H, S, d]
    k = split_heads(g.linear(h, hidden, hidden, sequence), [0, 2, 3, 1])  # [N, H, d, S]
    v = split_heads(g.linear(h, hidden, hidden, sequence), [0, 2, 1, 3])  # [N, H, S, d]
    g.macs += 2 * heads * sequence * sequence * head_dim  # QK^T and PV
    scores = g.op("Div", [g.op("MatMul", [q, k]), g.scalar(float(np.sqrt(head_dim)))])
    probs = g.op("Softmax", [g.op("Add", [scores, bias])], axis=-1)
    ctx = g.op("Transpose", [g.op("MatMul", [probs, v])], perm=[0, 2, 1, 3])
    ctx = g.op("Reshape", [ctx, g.ints(0, 0, hidden)])
    h = _layer_norm(g, g.op("Add", [h, g.linear(ctx, hidden, hidden, sequence)]), hidden)
    ffn = g.linear(_gelu(g, g.linear(h, hidden, inner, sequence)), inner, hidden, sequence)
    return _layer_norm(g, g.op("Add", [h, ffn]), hidden)


def _gelu(g: NetBuilder, x: str) -> str:
    """Exact GELU, x * 0.5 * (1 + erf(x / sqrt 2)): the pattern ONNX Runtime fuses to Gelu."""
    erf = g.op("Erf", [g.op("Div", [x, g.scalar(float(np.sqrt(2.0)))])])
    return g.op("Mul", [g.op("Mul", [x, g.op("Add", [erf, g.scalar(1.0)])]), g.scalar(0.5)])


def _layer_norm(g: NetBuilder, x: str, hidden: int) -> str:
    return g.op(
        "LayerNormalization",
        [x, g.const(np.ones(hidden, np.float32), "ln_g"), g.const(np.zeros(hidden, np.float32))],
        axis=-1,
        epsilon=1e-12,
    )
