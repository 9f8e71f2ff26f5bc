"""Vision networks for the benchmarks: ResNet-50, a YOLOv8n-sized detector, the custom CNN.

Architecture-faithful graphs with seeded random weights (BatchNorm folded into conv biases):
same layers, shapes and multiply-accumulates as the originals, so the compute cost is real;
the outputs mean nothing.
"""

from __future__ import annotations

import math

import numpy as np

from bench.layers import Feature, NetBuilder, Network
from mlinfer.samples.graph import FLOAT


# -- ResNet-50 --------------------------------------------------------------------------------
def resnet50(
    size: int = 224,
    width: int = 64,
    blocks: tuple[int, ...] = (3, 4, 6, 3),
    classes: int = 1000,
    seed: int = 50,
) -> Network:
    """ResNet-50 v1.5 (torchvision layout: stride in the 3x3 conv of each bottleneck).

    ``image`` FP32 [N, 3, size, size] -> ``probabilities`` FP32 [N, classes]. ``width`` and
    ``blocks`` shrink it for smoke tests (defaults: the real network, 25.6M parameters).
    """
    g = NetBuilder("resnet50", seed)
    x = Feature(g.input("image", FLOAT, ["batch", 3, size, size]), 3, size, size)
    x = g.conv(x, width, 7, stride=2, act="relu", pad=3)
    x = g.maxpool(x, 3, 2, pad=1)
    for stage, count in enumerate(blocks):
        planes = width * 2**stage
        for i in range(count):
            x = _bottleneck(g, x, planes, stride=2 if i == 0 and stage > 0 else 1)
    return _classifier(g, x, classes)


def _bottleneck(g: NetBuilder, x: Feature, planes: int, stride: int) -> Feature:
    out_channels = planes * 4
    y = g.conv(x, planes, 1, act="relu")
    y = g.conv(y, planes, 3, stride=stride, act="relu")
    y = g.conv(y, out_channels, 1)
    shortcut = x
    if stride != 1 or x.channels != out_channels:
        shortcut = g.conv(x, out_channels, 1, stride=stride)
    out = g.add(y, shortcut)
    return Feature(g.op("Relu", [out.name]), out.channels, out.height, out.width)


# -- YOLOv8 -----------------------------------------------------------------------------------
def yolov8(
    size: int = 640,
    width_multiple: float = 0.25,
    depth_multiple: float = 0.33,
    classes: int = 80,
    reg_max: int = 16,
    seed: int = 8,
) -> Network:
    """The YOLOv8 detection graph (yolov8.yaml: backbone, PAN neck, decoupled head with DFL).

    Defaults are the nano scale (width 0.25, depth 0.33: 3.2M parameters, ~8.7 GFLOPs at
    640x640). ``images`` FP32 [N, 3, size, size] -> ``output0`` FP32 [N, 4 + classes, anchors]
    (anchors = 8400 at 640: boxes cx, cy, w, h in pixels, then class scores), decoded exactly
    as the Ultralytics ONNX export does. Random weights: the boxes are noise.
    """

    def ch(c: int) -> int:
        return int(math.ceil(min(c, 1024) * width_multiple / 8) * 8)

    def depth(n: int) -> int:
        return max(round(n * depth_multiple), 1)

    g = NetBuilder("yolov8", seed)
    x = Feature(g.input("images", FLOAT, ["batch", 3, size, size]), 3, size, size)
    x = g.conv(x, ch(64), 3, 2, "silu")  # P1/2
    x = g.conv(x, ch(128), 3, 2, "silu")  # P2/4
    x = _c2f(g, x, ch(128), depth(3), shortcut=True)
    x = g.conv(x, ch(256), 3, 2, "silu")  # P3/8
    p3 = _c2f(g, x, ch(256), depth(6), shortcut=True)
    x = g.conv(p3, ch(512), 3, 2, "silu")  # P4/16
    p4 = _c2f(g, x, ch(512), depth(6), shortcut=True)
    x = g.conv(p4, ch(1024), 3, 2, "silu")  # P5/32
    x = _c2f(g, x, ch(1024), depth(3), shortcut=True)
    p5 = _sppf(g, x, ch(1024))
    # PAN neck
    h12 = _c2f(g, g.concat([g.upsample2(p5), p4]), ch(512), depth(3))
    h15 = _c2f(g, g.concat([g.upsample2(h12), p3]), ch(256), depth(3))
    h18 = _c2f(g, g.concat([g.conv(h15, ch(256), 3, 2, "silu"), h12]), ch(512), depth(3))
    h21 = _c2f(g, g.concat([g.conv(h18, ch(512), 3, 2, "silu"), p5]), ch(1024), depth(3))
    _detect(g, [h15, h18, h21], size, classes, reg_max)
    return g.network()


def _c2f(g: NetBuilder, x: Feature, out_channels: int, n: int, shortcut: bool = False) -> Feature:
    hidden = out_channels // 2
    y = g.conv(x, 2 * hidden, 1, act="silu")
    parts = [
        Feature(name, hidden, y.height, y.width)
        for name in g.split(y.name, (hidden, hidden), axis=1)
    ]
    for _ in range(n):
        last = parts[-1]
        z = g.conv(g.conv(last, hidden, 3, act="silu"), hidden, 3, act="silu")
        parts.append(g.add(last, z) if shortcut else z)
    return g.conv(g.concat(parts), out_channels, 1, act="silu")


def _sppf(g: NetBuilder, x: Feature, out_channels: int, k: int = 5) -> Feature:
    hidden = x.channels // 2
    y = g.conv(x, hidden, 1, act="silu")
    pools = [y]
    for _ in range(3):
        pools.append(g.maxpool(pools[-1], k, 1, pad=k // 2))
    return g.conv(g.concat(pools), out_channels, 1, act="silu")


def _detect(g: NetBuilder, levels: list[Feature], size: int, classes: int, reg_max: int) -> None:
    box_ch = max(16, levels[0].channels // 4, reg_max * 4)
    cls_ch = max(levels[0].channels, min(classes, 100))
    heads, anchors, strides = [], [], []
    for level in levels:
        box = g.conv(g.conv(level, box_ch, 3, act="silu"), box_ch, 3, act="silu")
        box = g.conv(box, 4 * reg_max, 1)
        cls = g.conv(g.conv(level, cls_ch, 3, act="silu"), cls_ch, 3, act="silu")
        cls = g.conv(cls, classes, 1)
        both = g.concat([box, cls])
        heads.append(g.op("Reshape", [both.name, g.ints(0, 4 * reg_max + classes, -1)]))
        stride = size // level.height
        ys, xs = np.meshgrid(
            np.arange(level.height, dtype=np.float32) + 0.5,
            np.arange(level.width, dtype=np.float32) + 0.5,
            indexing="ij",
        )
        anchors.append(np.stack([xs.ravel(), ys.ravel()]))
        strides.append(np.full(level.height * level.width, stride, np.float32))
    total = sum(a.shape[1] for a in anchors)
    out = g.op("Concat", heads, axis=2)  # [N, 4*reg_max + classes, A]
    box_name, cls_name = g.split(out, (4 * reg_max, classes), axis=1)
    # DFL: softmax over reg_max bins, expectation -> distances (l, t, r, b) in grid units
    bins = g.op("Reshape", [box_name, g.ints(0, 4, reg_max, -1)])
    probs = g.op("Softmax", [bins], axis=2)
    weights = g.const(np.arange(reg_max, dtype=np.float32).reshape(1, 1, reg_max, 1), "dfl")
    dist = g.op("ReduceSum", [g.op("Mul", [probs, weights]), g.ints(2)], keepdims=0)
    lt = g.op("Slice", [dist, g.ints(0), g.ints(2), g.ints(1)])
    rb = g.op("Slice", [dist, g.ints(2), g.ints(4), g.ints(1)])
    anchor = g.const(np.concatenate(anchors, axis=1)[None], "anchors")  # [1, 2, A]
    x1y1 = g.op("Sub", [anchor, lt])
    x2y2 = g.op("Add", [anchor, rb])
    centre = g.op("Div", [g.op("Add", [x1y1, x2y2]), g.scalar(2.0)])
    wh = g.op("Sub", [x2y2, x1y1])
    stride_row = g.const(np.concatenate(strides)[None, None], "strides")  # [1, 1, A]
    boxes = g.op("Mul", [g.op("Concat", [centre, wh], axis=1), stride_row])
    scores = g.op("Sigmoid", [cls_name])
    g.op("Concat", [boxes, scores], "output0", axis=1)
    g.output("output0", FLOAT, ["batch", 4 + classes, total])


# -- custom CNN ---------------------------------------------------------------------------
def custom_cnn(
    size: int = 128,
    channels: tuple[int, ...] = (32, 64, 128, 256),
    classes: int = 10,
    seed: int = 3,
) -> Network:
    """The sample ``image_cnn`` scaled up: what a team trains for its own product images.

    ``image`` FP32 [N, 3, size, size]; per stage a 3x3 conv (BatchNorm folded) + ReLU + 2x2
    max pooling; then global average pooling, a linear classifier and softmax ->
    ``probabilities`` FP32 [N, classes]. Defaults: 128x128 input, stages of 32/64/128/256
    channels: 0.24 GMACs, 0.39M parameters (a light model, where serving overhead shows).
    """
    g = NetBuilder("custom_cnn", seed)
    x = Feature(g.input("image", FLOAT, ["batch", 3, size, size]), 3, size, size)
    for c in channels:
        x = g.conv(x, c, 3, act="relu")
        x = g.maxpool(x, 2, 2)
    return _classifier(g, x, classes)


# -- the hot path's CNN -----------------------------------------------------------------------
def conv8(
    size: int = 64,
    channels: tuple[int, ...] = (16, 32, 64, 128),
    classes: int = 10,
    seed: int = 8,
) -> Network:
    """Eight 3x3 convolutions (two per stage, ReLU after each, 2x2 max pooling after each
    stage), global pooling and a linear classifier: the small CNN of the hot-path table.

    ``image`` FP32 [N, 3, size, size] -> ``probabilities`` FP32 [N, classes]. Defaults:
    3x64x64 input, stages of 16/32/64/128 channels: 0.05 GMACs, 0.29M parameters.
    """
    g = NetBuilder("conv8", seed)
    x = Feature(g.input("image", FLOAT, ["batch", 3, size, size]), 3, size, size)
    for c in channels:
        x = g.conv(x, c, 3, act="relu")
        x = g.conv(x, c, 3, act="relu")
        x = g.maxpool(x, 2, 2)
    return _classifier(g, x, classes)


def _classifier(g: NetBuilder, x: Feature, classes: int) -> Network:
    """Global average pooling, a linear layer and softmax -> ``probabilities`` [N, classes]."""
    logits = g.gemm(g.global_pool(x), x.channels, classes)
    g.op("Softmax", [logits], "probabilities", axis=1)
    g.output("probabilities", FLOAT, ["batch", classes])
    return g.network()
