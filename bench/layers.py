"""Layer helpers over :class:`GraphBuilder` for the benchmark networks.

Weights are seeded random (He-scaled normal, drawn directly in float32 so that a 110M-parameter
BERT builds in seconds). BatchNormalization is folded into the preceding convolution, as every
deployment toolchain (ONNX Runtime's optimizer, TensorRT) does before inference: a conv with a
bias is exactly what a conv + BN becomes. Multiply-accumulates are counted while building so
the report can state each network's cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from numpy.typing import NDArray
from onnx import helper

from mlinfer.samples.graph import GraphBuilder


@dataclass(frozen=True)
class Feature:
    """A feature map in NCHW: graph value name, channels, height, width (batch is dynamic)."""

    name: str
    channels: int
    height: int
    width: int


@dataclass(frozen=True)
class Network:
    """A built graph and what it costs."""

    onnx_model: onnx.ModelProto
    macs: int
    """Multiply-accumulates per batch item (FLOPs ~ 2 x MACs)."""
    params: int


class NetBuilder(GraphBuilder):
    """GraphBuilder plus conv/activation/linear helpers that count multiply-accumulates."""

    def __init__(self, name: str, seed: int = 0) -> None:
        super().__init__(name, seed)
        self.macs = 0  # per batch item

    def network(self) -> Network:
        model = self.model()
        params = sum(int(np.prod(t.dims)) for t in model.graph.initializer)
        return Network(model, self.macs, params)

    # -- weights ------------------------------------------------------------------------
    def randn(self, shape: tuple[int, ...], scale: float, hint: str = "w") -> str:
        array: NDArray[np.float32] = self.rng.standard_normal(shape, dtype=np.float32)
        array *= np.float32(scale)
        return self.const(array, hint)

    def he(self, shape: tuple[int, ...], fan_in: int, hint: str = "w") -> str:
        return self.randn(shape, float(np.sqrt(2.0 / fan_in)), hint)

    def bias(self, size: int, scale: float = 0.01) -> str:
        return self.randn((size,), scale, "b")

    def scalar(self, value: float | int, dtype: Any = np.float32) -> str:
        return self.const(np.array(value, dtype=dtype), "c")

    def ints(self, *values: int) -> str:
        return self.const(np.array(values, dtype=np.int64), "shape")

    # -- convolutional layers -----------------------------------------------------------
    def conv(
        self,
        x: Feature,
        out_channels: int,
        kernel: int,
        stride: int = 1,
        act: str | None = None,
        pad: int | None = None,
    ) -> Feature:
        """Conv2d (BatchNorm folded into its bias) + optional activation."""
        pad = kernel // 2 if pad is None else pad
        weight = self.he((out_channels, x.channels, kernel, kernel), x.channels * kernel * kernel)
        y = self.op(
            "Conv",
            [x.name, weight, self.bias(out_channels)],
            kernel_shape=[kernel, kernel],
            strides=[stride, stride],
            pads=[pad, pad, pad, pad],
        )
        height = (x.height + 2 * pad - kernel) // stride + 1
        width = (x.width + 2 * pad - kernel) // stride + 1
        self.macs += height * width * out_channels * x.channels * kernel * kernel
        return Feature(self.activation(y, act), out_channels, height, width)

    def activation(self, x: str, act: str | None) -> str:
        if act is None:
            return x
        if act == "relu":
            return self.op("Relu", [x])
        if act == "silu":  # x * sigmoid(x); ONNX Runtime fuses it
            return self.op("Mul", [x, self.op("Sigmoid", [x])])
        raise ValueError(f"unknown activation {act!r}")

    def maxpool(self, x: Feature, kernel: int, stride: int, pad: int = 0) -> Feature:
        y = self.op(
            "MaxPool",
            [x.name],
            kernel_shape=[kernel, kernel],
            strides=[stride, stride],
            pads=[pad, pad, pad, pad],
        )
        height = (x.height + 2 * pad - kernel) // stride + 1
        width = (x.width + 2 * pad - kernel) // stride + 1
        return Feature(y, x.channels, height, width)

    def split(self, x: str, sizes: tuple[int, ...], axis: int) -> list[str]:
        """Split ``x`` along ``axis`` into parts of ``sizes`` (a node with several outputs)."""
        outs = [self._fresh("split") for _ in sizes]
        self.nodes.append(helper.make_node("Split", [x, self.ints(*sizes)], outs, axis=axis))
        return outs

    def add(self, a: Feature, b: Feature) -> Feature:
        return Feature(self.op("Add", [a.name, b.name]), a.channels, a.height, a.width)

    def concat(self, parts: list[Feature]) -> Feature:
        y = self.op("Concat", [p.name for p in parts], axis=1)
        return Feature(y, sum(p.channels for p in parts), parts[0].height, parts[0].width)

    def upsample2(self, x: Feature) -> Feature:
        scales = self.const(np.array([1.0, 1.0, 2.0, 2.0], np.float32), "scales")
        y = self.op("Resize", [x.name, "", scales], mode="nearest")
        return Feature(y, x.channels, x.height * 2, x.width * 2)

    def global_pool(self, x: Feature) -> str:
        """[N, C, H, W] -> [N, C]."""
        return self.op("Flatten", [self.op("GlobalAveragePool", [x.name])])

    # -- dense layers -------------------------------------------------------------------
    def gemm(self, x: str, fan_in: int, fan_out: int, out: str | None = None) -> str:
        """[N, fan_in] -> [N, fan_out]."""
        self.macs += fan_in * fan_out
        weight = self.he((fan_in, fan_out), fan_in)
        return self.op("Gemm", [x, weight, self.bias(fan_out)], out)

    def linear(self, x: str, fan_in: int, fan_out: int, tokens: int) -> str:
        """[..., fan_in] @ W + b for ``tokens`` rows per batch item (MatMul + Add)."""
        self.macs += tokens * fan_in * fan_out
        weight = self.randn((fan_in, fan_out), 0.02)  # BERT's initializer range
        return self.op("Add", [self.op("MatMul", [x, weight]), self.bias(fan_out)])
