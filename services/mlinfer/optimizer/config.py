"""``optimization_config.yaml``: per-model precisions, data, budget and engine options.

The file holds ``defaults`` (applied to every model) and ``models`` (per model name, merged
over the defaults); a file without ``models`` is one model's section. Command-line flags are
applied last, through :func:`with_overrides`. Unknown keys are errors that name the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mlinfer.optimizer.errors import ConfigError

Precision = Literal["fp32", "fp16", "int8", "int8_dynamic"]
PRECISIONS: tuple[Precision, ...] = ("fp32", "fp16", "int8", "int8_dynamic")
Target = Literal["onnxruntime", "tensorrt"]
CalibrationMethod = Literal["minmax", "entropy", "percentile"]
CONFIG_FILENAME = "optimization_config.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataSource(_Strict):
    source: str | None = None
    """``.npz`` / ``.npy`` file, a directory of images, or ``module:function`` yielding feeds."""
    samples: int = Field(500, ge=1)
    """Samples to use (calibration default 500, as TensorRT's calibrators suggest)."""
    labels: str = "labels"
    """Key of the integer labels in an ``.npz`` (or in the feeds an entry point yields)."""


class OutputBudget(_Strict):
    """Per-output tolerances; unset fields fall back to the budget's defaults."""

    min_cosine: float | None = Field(None, ge=-1, le=1)
    min_sqnr_db: float | None = None
    min_top1_agreement: float | None = Field(None, ge=0, le=1)
    atol: float | None = Field(None, ge=0)
    rtol: float | None = Field(None, ge=0)


class Budget(_Strict):
    max_accuracy_drop: float = Field(1.0, ge=0)
    """Percentage points of top-1 accuracy a candidate may lose (used when labels exist)."""
    min_cosine: float | None = Field(0.99, ge=-1, le=1)
    min_sqnr_db: float | None = None
    min_top1_agreement: float | None = Field(None, ge=0, le=1)
    atol: float | None = Field(None, ge=0)
    rtol: float | None = Field(None, ge=0)
    """With ``atol``: every element must satisfy ``|c - r| <= atol + rtol * |r|`` (Polygraphy)."""
    label_output: str | None = None
    """Output scored against the labels (default: the first output)."""
    outputs: dict[str, OutputBudget] = Field(default_factory=dict)

    def for_output(self, name: str) -> OutputBudget:
        own = self.outputs.get(name, OutputBudget())
        merged = {
            field: getattr(own, field) if getattr(own, field) is not None else getattr(self, field)
            for field in OutputBudget.model_fields
        }
        return OutputBudget(**merged)


class Int8Options(_Strict):
    method: CalibrationMethod = "minmax"
    per_channel: bool = True
    symmetric_activations: bool | None = None
    """None: symmetric for TensorRT (explicit quantization needs it), asymmetric UINT8 on CPU."""
    reduce_range: bool | None = None
    """None: 7-bit weights on x86 CPUs without VNNI (ONNX Runtime's advice), else 8-bit."""
    exclude_nodes: tuple[str, ...] = ()
    exclude_op_types: tuple[str, ...] = ()
    percentile: float = Field(99.999, gt=0, le=100)


class Fp16Options(_Strict):
    op_block_list: tuple[str, ...] | None = None
    """Ops kept FP32 (None: onnxconverter-common's default list)."""
    node_block_list: tuple[str, ...] = ()
    auto_mixed_precision: bool = False
    """When plain FP16 breaks the budget, keep its most damaging nodes FP32 (the fallback)."""


class Fallback(_Strict):
    max_rounds: int = Field(4, ge=0)
    nodes_per_round: int = Field(2, ge=1)
    sensitivity_samples: int = Field(16, ge=1)


class Profiling(_Strict):
    batch_sizes: tuple[int, ...] | None = None
    """Batch sizes to measure throughput at (default: 1, the preferred sizes, max_batch_size)."""
    seconds: float = Field(2.0, gt=0)
    """Measuring time per point (at least ``min_runs`` runs each)."""
    min_runs: int = Field(5, ge=1)
    warmup_runs: int = Field(2, ge=0)
    all_candidates: bool = False
    """Profile candidates over budget too (benchmarks); by default only publishable ones."""


class Profile(_Strict):
    """One TensorRT optimization profile for one input: full shapes including the batch."""

    min: tuple[int, ...]
    opt: tuple[int, ...]
    max: tuple[int, ...]


class TensorRTOptions(_Strict):
    workspace_mib: int = Field(1024, ge=16)
    dla_core: int | None = Field(None, ge=0)
    gpu_fallback: bool = True
    timing_cache: Path | None = None
    profiles: dict[str, Profile] = Field(default_factory=dict)
    """Per-input overrides; by default derived from config.pbtxt."""
    strongly_typed: bool = False
    """TensorRT 10: build the Q/DQ network strongly typed (precision exactly as the file says)."""
    int8_mode: Literal["explicit", "implicit"] = "explicit"
    """explicit: build the gated Q/DQ file. implicit (TensorRT 8.x): TensorRT calibrates the
    FP32 model with an entropy calibrator on the calibration data (and caches the result)."""


class ModelOptimization(_Strict):
    precisions: tuple[Precision, ...] = ("fp16", "int8")
    target: Target = "onnxruntime"
    calibration: DataSource = Field(default_factory=DataSource)
    validation: DataSource = Field(default_factory=lambda: DataSource(samples=200))
    budget: Budget = Field(default_factory=Budget)
    int8: Int8Options = Field(default_factory=Int8Options)
    fp16: Fp16Options = Field(default_factory=Fp16Options)
    fallback: Fallback = Field(default_factory=Fallback)
    profiling: Profiling = Field(default_factory=Profiling)
    tensorrt: TensorRTOptions = Field(default_factory=TensorRTOptions)
    simplify: bool = True

    @model_validator(mode="after")
    def _check(self) -> ModelOptimization:
        if not self.precisions:
            raise ValueError("precisions: give at least one of " + ", ".join(PRECISIONS))
        if self.target == "tensorrt" and "int8_dynamic" in self.precisions:
            raise ValueError("precisions: int8_dynamic is an ONNX Runtime mode; TensorRT uses int8")
        return self


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _validated(data: dict[str, Any], where: str) -> ModelOptimization:
    try:
        return ModelOptimization.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"{where}: {problems}") from None


def load_config(path: Path | None, model_name: str) -> ModelOptimization:
    """The section for ``model_name`` (defaults merged), or built-in defaults without a file."""
    if path is None:
        return ModelOptimization()
    import yaml

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    if "models" not in raw and "defaults" not in raw:
        return _validated(raw, str(path))
    unknown = set(raw) - {"models", "defaults"}
    if unknown:
        raise ConfigError(f"{path}: unknown top-level keys {sorted(unknown)} (use defaults/models)")
    section = (raw.get("models") or {}).get(model_name, {})
    return _validated(_merge(raw.get("defaults") or {}, section or {}), f"{path} [{model_name}]")


def with_overrides(config: ModelOptimization, overrides: dict[str, Any]) -> ModelOptimization:
    """Apply dotted-key overrides from flags, e.g. ``{"budget.min_cosine": 0.995}``."""
    nested: dict[str, Any] = {}
    for dotted, value in overrides.items():
        if value is None:
            continue
        node = nested
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return _validated(_merge(config.model_dump(), nested), "command line")
