"""Process settings, read from the environment (prefix ``MLINFER_``) or an env file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
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
    tls_cert_file: Path | None = Field(
        None, description="PEM certificate: serve REST (HTTPS) and gRPC over TLS."
    )
    tls_key_file: Path | None = Field(None, description="PEM private key for tls_cert_file.")
    cors_allow_origins: list[str] = Field(
        default_factory=list, description="Origins allowed by CORS (empty = CORS off)."
    )
    log_level: str = Field("INFO", description="Python logging level.")
    log_format: Literal["json", "text"] = Field(
        "json", description="json: one JSON object per line; text: for humans."
    )
    access_log: bool = Field(True, description="One log line per inference request.")
    admission_max_inflight: int = Field(
        64, description="Requests admitted to the backend at once (0 = no admission control)."
    )
    admission_max_queue: int = Field(
        512, description="Requests that may wait for admission; more are shed with 503."
    )
    admission_max_wait_ms: int = Field(
        5000, description="Longest wait for admission before a request is shed with 503."
    )
    admission_default_priority: int = Field(
        2, description="Admission priority of requests without one (1 = highest)."
    )
    otel_exporter: Literal["none", "console", "otlp-grpc", "otlp-http"] = Field(
        "none", description="Where OpenTelemetry spans go; none = tracing off."
    )
    otel_endpoint: str | None = Field(
        None, description="OTLP endpoint (grpc: host:port; http: URL of /v1/traces)."
    )
    otel_service_name: str = Field("mlinfer", description="service.name of exported spans.")
    otel_sample_ratio: float = Field(
        1.0, description="Fraction of new traces sampled (parent decisions are honoured)."
    )

    @model_validator(mode="after")
    def _tls_pair(self) -> Settings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file must be given together")
        return self
