"""Machine-level optimizer settings (env prefix ``MLINFER_OPTIMIZER_``).

Per-model choices (precisions, data, budget) live in ``optimization_config.yaml``; these are
the things that belong to the machine the optimizer runs on.
"""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class OptimizerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MLINFER_OPTIMIZER_", extra="ignore")

    cache_dir: Path = Path.home() / ".cache" / "mlinfer" / "optimizer"
    """Timing caches and engine caches, keyed so that a changed input never reuses them."""
    trtexec: str = "trtexec"
    """trtexec binary (name on PATH or a path), used when the tensorrt module is absent."""
    profile_threads: int = 0
    """intra_op_num_threads of the profiling sessions; 0 lets ONNX Runtime choose."""
    work_dir: Path | None = None
    """Where intermediate candidates are written (default: a temporary directory)."""
