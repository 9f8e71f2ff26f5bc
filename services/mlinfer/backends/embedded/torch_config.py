"""What config.pbtxt says to the TorchScript runtime: tensor order, datatypes, options.

TorchScript carries no tensor names or shapes, so (as in Triton's PyTorch backend) the
config must declare every input and output. Inputs named ``<anything>__<i>`` are passed to
``forward`` in index order; otherwise by ``forward``'s argument names when they match;
otherwise in the declared order. Outputs named ``<anything>__<i>`` are the i-th element of
what ``forward`` returns (a tensor, a tuple/list, or a dict keyed by output name);
otherwise the declared order.

``parameters`` the runtime reads (string values):
  ``precision``: ``fp32`` (default) or ``fp16``: weights and float compute in half; inputs
  and outputs keep their declared datatypes (cast on the device).
  ``cuda_graphs``: ``true`` (default) or ``false``: capture one CUDA graph per batch bucket
  at load time (GPU instances only).
  ``cuda_graph_batch_sizes``: e.g. ``"1,8,32"``; default: the preferred batch sizes, else
  powers of two up to ``max_batch_size`` (and ``max_batch_size`` itself).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tritonclient.grpc import model_config_pb2 as mc

from mlinfer.core import datatypes
from mlinfer.core.errors import ModelLoadError
from mlinfer.core.model_config import boolean_parameter, parameter

# Datatypes torch has tensors for (torch's unsigned types beyond uint8 are incomplete).
TORCH_DATATYPES = ("BOOL", "UINT8", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32", "FP64")
_INDEXED = re.compile(r"^.+__(\d+)$")


@dataclass(frozen=True)
class TorchTensor:
    name: str
    datatype: str  # protocol name: FP32, INT64, ...
    dims: tuple[int, ...]  # per item, after any reshape; -1 = variable


@dataclass(frozen=True)
class TorchOptions:
    half: bool
    cuda_graphs: bool
    graph_batch_sizes: tuple[int, ...]  # ascending; empty for a model that does not batch


def declared(config: mc.ModelConfig) -> tuple[list[TorchTensor], list[TorchTensor]]:
    if not config.input or not config.output:
        raise ModelLoadError(
            f"model '{config.name}': platform pytorch_libtorch needs every input and output "
            "declared in config.pbtxt (a TorchScript file carries no tensor names or shapes)"
        )
    return _tensors(config, config.input, "input"), _tensors(config, config.output, "output")


def _tensors(config: mc.ModelConfig, tensors: Sequence[Any], kind: str) -> list[TorchTensor]:
    out = []
    for t in tensors:  # ModelInput / ModelOutput: the fields read here are common to both
        datatype = datatypes.BY_CONFIG[int(t.data_type)].name
        if datatype not in TORCH_DATATYPES:
            raise ModelLoadError(
                f"model '{config.name}': {kind} '{t.name}' is {datatype}, which the TorchScript "
                f"runtime does not support (supported: {', '.join(TORCH_DATATYPES)})"
            )
        dims = t.reshape.shape if t.HasField("reshape") else t.dims
        out.append(TorchTensor(str(t.name), datatype, tuple(int(d) for d in dims)))
    return out


def input_order(
    config: mc.ModelConfig, inputs: Sequence[TorchTensor], arg_names: Sequence[str]
) -> list[TorchTensor]:
    """The declared inputs in the order ``forward`` takes them."""
    if len(arg_names) != len(inputs):
        raise ModelLoadError(
            f"model '{config.name}': forward() takes {len(arg_names)} input(s) "
            f"({', '.join(arg_names)}) but config.pbtxt declares {len(inputs)}"
        )
    indexed = _by_index(config, inputs, "input")
    if indexed is not None:
        return indexed
    by_name = {t.name: t for t in inputs}
    if set(by_name) == set(arg_names):
        return [by_name[a] for a in arg_names]
    return list(inputs)


def output_order(config: mc.ModelConfig, outputs: Sequence[TorchTensor]) -> list[TorchTensor]:
    """The declared outputs in the order ``forward`` returns them."""
    indexed = _by_index(config, outputs, "output")
    return indexed if indexed is not None else list(outputs)


def _by_index(
    config: mc.ModelConfig, tensors: Sequence[TorchTensor], kind: str
) -> list[TorchTensor] | None:
    matches = [_INDEXED.match(t.name) for t in tensors]
    if not all(matches):
        return None
    indices = [int(m.group(1)) for m in matches if m]
    if sorted(indices) != list(range(len(tensors))):
        raise ModelLoadError(
            f"model '{config.name}': {kind} names ending in __<index> must number "
            f"0..{len(tensors) - 1} without gaps (got {', '.join(t.name for t in tensors)})"
        )
    return [t for _, t in sorted(zip(indices, tensors, strict=True), key=lambda p: p[0])]


def options(config: mc.ModelConfig) -> TorchOptions:
    precision = parameter(config, "precision", "fp32").strip().lower()
    if precision not in ("fp32", "fp16"):
        raise ModelLoadError(
            f"model '{config.name}': parameter precision='{precision}' is not supported "
            "(supported: fp32, fp16)"
        )
    graphs = boolean_parameter(config, "cuda_graphs", True)
    return TorchOptions(precision == "fp16", graphs, graph_batch_sizes(config))


def graph_batch_sizes(config: mc.ModelConfig) -> tuple[int, ...]:
    """The batch buckets CUDA graphs are captured for."""
    limit = int(config.max_batch_size)
    if limit <= 0:
        return ()
    text = parameter(config, "cuda_graph_batch_sizes", "").strip()
    if text:
        try:
            sizes = {int(s) for s in text.split(",") if s.strip()}
        except ValueError:
            sizes = set()
        if not sizes or min(sizes) < 1 or max(sizes) > limit:
            raise ModelLoadError(
                f"model '{config.name}': parameter cuda_graph_batch_sizes='{text}' must be "
                f"comma-separated batch sizes from 1 to max_batch_size ({limit})"
            )
        return tuple(sorted(sizes))
    preferred = {int(s) for s in config.dynamic_batching.preferred_batch_size}
    if preferred:
        return tuple(sorted(s for s in preferred if 1 <= s <= limit))
    powers = {1 << i for i in range(limit.bit_length()) if 1 << i <= limit}
    return tuple(sorted(powers | {limit}))


def bucket_for(sizes: Sequence[int], batch: int) -> int | None:
    """The smallest bucket that holds ``batch`` items; None when none does (run eagerly)."""
    return next((s for s in sizes if s >= batch), None)
