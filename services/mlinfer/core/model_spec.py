"""The serving signature of a loaded model, derived from its (completed) ModelConfig.

Both backends describe models this way, so validation, metadata and the convenience API
do not depend on where a model runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tritonclient.grpc import model_config_pb2 as mc

from mlinfer.core import datatypes
from mlinfer.core.errors import ModelLoadError
from mlinfer.core.model_config import boolean_parameter

T = TypeVar("T")
CACHE_PARAMETER = "response_cache"
SEQUENCE_PARAMETER = "max_sequence_length"


@dataclass(frozen=True)
class TensorSpec:
    name: str
    datatype: str
    dims: tuple[int, ...]  # as configured, without the batch dimension
    labels: tuple[str, ...] = ()
    reshape: tuple[int, ...] | None = None  # config ``reshape``: the shape the model is fed


@dataclass(frozen=True)
class ModelSpec:
    name: str
    platform: str
    max_batch_size: int
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    config: mc.ModelConfig = field(compare=False)
    response_cache: bool = False  # decided at load: see response_cache_enabled
    # Declared limit (parameter ``max_sequence_length``) on every variable-size (-1) input
    # dimension: past it the model's position table runs out. 0 = none declared.
    max_sequence_length: int = 0
    # Values concerns derive from this loaded version (an image pipeline, ...): built once,
    # dropped with the version, never keyed by anything that outlives it.
    _derived: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def derived(self, key: str, build: Callable[[ModelSpec], T]) -> T:
        """``build(self)``, computed on first use and kept as long as this version."""
        if key not in self._derived:
            self._derived[key] = build(self)
        value: T = self._derived[key]
        return value

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
            tuple(int(d) for d in t.reshape.shape) if t.HasField("reshape") else None,
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
        response_cache=response_cache_enabled(config),
        max_sequence_length=declared_max_sequence_length(config),
    )


def declared_max_sequence_length(config: mc.ModelConfig) -> int:
    """The ``max_sequence_length`` parameter (0 when absent); malformed is a load error."""
    if SEQUENCE_PARAMETER not in config.parameters:
        return 0
    raw = str(config.parameters[SEQUENCE_PARAMETER].string_value).strip()
    if not raw.isascii() or not raw.isdigit() or int(raw) < 1:
        raise ModelLoadError(
            f"model '{config.name}': parameter '{SEQUENCE_PARAMETER}' must be a positive "
            f"integer, got '{raw}'"
        )
    return int(raw)


def response_cache_enabled(config: mc.ModelConfig) -> bool:
    """Whether ``config`` opts into response caching; a malformed parameter is a load error.

    Caching is only correct for deterministic models, which only the model's author knows,
    so it is never on by default. A model opts in with Triton's own field
    ``response_cache { enable: true }`` or, for configs shared with tools that do not know
    that field, with the parameter ``response_cache: "true"``; when both are present the
    field decides.
    """
    if config.HasField("response_cache"):
        return bool(config.response_cache.enable)
    return boolean_parameter(config, CACHE_PARAMETER, False)
