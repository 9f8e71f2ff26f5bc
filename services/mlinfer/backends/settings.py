"""What the engines are told: :class:`EngineSettings` (embedded engine and model repository)
and :class:`TritonSettings` (a Triton to front instead).

The embedded engine's variables predate per-concern prefixes and keep their names
(``MLINFER_MODEL_REPOSITORY``, ``MLINFER_INTRA_OP_THREADS``, ...): the prefix is ``MLINFER_``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ModelControlMode = Literal["none", "explicit", "poll"]


class EngineSettings(BaseSettings):
    """The model repository, how models are loaded, and how the embedded engine runs them."""

    model_config = SettingsConfigDict(env_prefix="MLINFER_", extra="ignore", frozen=True)

    model_repository: Path = Field(
        Path("model_repository"), description="Triton-layout model repository."
    )
    model_control_mode: ModelControlMode = Field(
        "explicit",
        description="none: load all at start; explicit: load/unload API; poll: rescan repository.",
    )
    startup_models: list[str] = Field(
        default_factory=lambda: ["*"],
        description="Models loaded at start in explicit mode ('*' = every model).",
    )
    repository_poll_seconds: float = Field(15.0, description="Rescan period in poll mode.")
    execution_providers: list[str] = Field(
        default_factory=list,
        description="ONNX Runtime providers for the embedded engine; empty = from instance_group.",
    )
    intra_op_threads: int = Field(0, description="ONNX Runtime intra-op threads (0 = ORT default).")
    inline_execution_max_us: int = Field(
        500,
        description="Single-instance models whose batches take at most this long on the "
        "event loop run there instead of on a worker thread (measured by probing; "
        "0 = always a thread).",
    )


class TritonSettings(BaseSettings):
    """A Triton server to front (``MLINFER_TRITON_URL``); unset = the embedded engine."""

    model_config = SettingsConfigDict(env_prefix="MLINFER_TRITON_", extra="ignore", frozen=True)

    url: str | None = Field(
        None, description="host:port of a Triton gRPC endpoint; set to front Triton."
    )
    http_url: str | None = Field(
        None,
        description="host:port of the same Triton's HTTP endpoint: REST inferences are "
        "forwarded there as the client's bytes (pass-through) unless the response cache or "
        "class counts need the tensors; unset = every inference over gRPC.",
    )
    # Deadlines on every call to Triton: a frozen or overloaded Triton costs a client at most
    # this long, then 504 / DEADLINE_EXCEEDED, instead of holding requests for the freeze.
    infer_timeout_s: float = Field(
        60.0,
        gt=0,
        description="Deadline of an inference proxied to Triton; a client's shorter gRPC "
        "deadline wins. Past it: 504 / DEADLINE_EXCEEDED.",
    )
    control_timeout_s: float = Field(
        30.0, gt=0, description="Deadline of metadata, config, index and statistics calls."
    )
    load_timeout_s: float = Field(
        600.0,
        gt=0,
        description="Deadline of a model load or unload on Triton (engines can take minutes).",
    )

    @model_validator(mode="after")
    def _consistent(self) -> TritonSettings:
        for name, value in (("URL", self.url), ("HTTP_URL", self.http_url)):
            if value and "://" in value:
                raise ValueError(
                    f"MLINFER_TRITON_{name} is host:port, without a scheme: got '{value}'"
                )
        if self.http_url and not self.url:
            raise ValueError(
                "MLINFER_TRITON_HTTP_URL needs MLINFER_TRITON_URL (its gRPC endpoint): "
                "Triton is fronted only when both name it"
            )
        return self
