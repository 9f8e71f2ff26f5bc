"""What the gRPC server is told: :class:`GrpcSettings` (environment prefix ``MLINFER_GRPC_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class GrpcSettings(BaseSettings):
    """The gRPC listener: port, message bounds, keepalive."""

    model_config = SettingsConfigDict(env_prefix="MLINFER_GRPC_", extra="ignore", frozen=True)

    port: int = Field(8001, description="gRPC port (inference.GRPCInferenceService).")
    max_message_bytes: int = Field(
        64 * 1024 * 1024, description="Largest gRPC message, both directions."
    )
    keepalive_time_ms: int = Field(20_000, description="gRPC server keepalive ping interval.")
    keepalive_timeout_ms: int = Field(10_000, description="gRPC keepalive ping ack timeout.")
