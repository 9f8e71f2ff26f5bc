"""What tracing is told: :class:`TracingSettings` (environment prefix ``MLINFER_OTEL_``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class TracingSettings(BaseSettings):
    """OpenTelemetry export of spans."""

    model_config = SettingsConfigDict(env_prefix="MLINFER_OTEL_", extra="ignore", frozen=True)

    exporter: Literal["none", "console", "otlp-grpc", "otlp-http"] = Field(
        "none", description="Where OpenTelemetry spans go; none = tracing off."
    )
    endpoint: str | None = Field(
        None, description="OTLP endpoint (grpc: host:port; http: URL of /v1/traces)."
    )
    service_name: str = Field("mlinfer", description="service.name of exported spans.")
    sample_ratio: float = Field(
        1.0, description="Fraction of new traces sampled (parent decisions are honoured)."
    )
