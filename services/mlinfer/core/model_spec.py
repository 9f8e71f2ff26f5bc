"""The serving signature of a loaded model, derived from its (completed) ModelConfig.

Both backends describe models this way, so validation, metadata and the convenience API
do not depend on where a model runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tritonclient.grpc import model_config_pb2 as mc

from mlinfer.core import datatypes


@dataclass(frozen=True)
class TensorSpec:
    name: str
    datatype: str
    dims: tuple[int, ...]  # as configured, without the batch dimension
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelSpec:
    name: str
    platform: str
    max_batch_size: int
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    config: mc.ModelConfig = field(compare=False)

    @property
    def batched(self) -> bool:
        return self.max_batch_size > 0

    def input(self, name: str) -> TensorSpec | None:
        return next((t for t in self.inputs if t.name == name), None)

    def output(self, name: str) -> TensorSpec | None:
        return next((t for t in self.outputs if t.name == name), None)

    def full_shape(self, spec: TensorSpec) -> list[int]:
        """Shape as metadata reports it: ``[-1, *dims]`` for batched models."""
        return ([-1] if self.batched else []) + list(spec.dims)


def spec_from_config(
    config: mc.ModelConfig, labels: dict[str, list[str]] | None = None
) -> ModelSpec:
    labels = labels or {}

    def tensor(t: mc.ModelInput | mc.ModelOutput, with_labels: bool) -> TensorSpec:
        return TensorSpec(
            t.name,
            datatypes.BY_CONFIG[t.data_type].name,
            tuple(int(d) for d in t.dims),
            tuple(labels.get(t.name, ())) if with_labels else (),
        )

    platform = config.platform or (
        "onnxruntime_onnx" if config.backend in ("", "onnxruntime") else config.backend
    )
    return ModelSpec(
        name=config.name,
        platform=platform,
        max_batch_size=int(config.max_batch_size),
        inputs=tuple(tensor(t, False) for t in config.input),
        outputs=tuple(tensor(t, True) for t in config.output),
        config=config,
    )
