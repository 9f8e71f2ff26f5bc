"""Process settings, read from the environment (prefix ``MLINFER_``) or an env file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

ModelControlMode = Literal["none", "explicit", "poll"]


class Settings(BaseSettings):
    """Everything a mlinfer process can be told. CLI flags override these fields."""

    model_config = SettingsConfigDict(env_prefix="MLINFER_", env_file=None, extra="ignore")

    host: str = Field("127.0.0.1", description="Address the REST and gRPC servers bind.")
    http_port: int = Field(8000, description="REST port (Open Inference Protocol, /metrics).")
    grpc_port: int = Field(8001, description="gRPC port (inference.GRPCInferenceService).")
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
    triton_url: str | None = Field(
        None, description="host:port of a Triton gRPC endpoint; set to front Triton."
    )
    execution_providers: list[str] = Field(
        default_factory=list,
        description="ONNX Runtime providers for the embedded engine; empty = from instance_group.",
    )
    intra_op_threads: int = Field(0, description="ONNX Runtime intra-op threads (0 = ORT default).")
    max_request_bytes: int = Field(64 * 1024 * 1024, description="Largest accepted request body.")
    grpc_max_message_bytes: int = Field(
        64 * 1024 * 1024, description="Largest gRPC message, both directions."
    )
    grpc_keepalive_time_ms: int = Field(20_000, description="gRPC server keepalive ping interval.")
    grpc_keepalive_timeout_ms: int = Field(10_000, description="gRPC keepalive ping ack timeout.")
    shutdown_grace_seconds: float = Field(
        10.0, description="How long shutdown waits for in-flight requests to drain."
    )
    log_level: str = Field("INFO", description="Python logging level.")
