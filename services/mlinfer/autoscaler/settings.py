"""Autoscaler settings (env prefix ``MLINFER_AUTOSCALER_``).

Policy defaults live in :class:`~mlinfer.autoscaler.policy.PolicyConfig`; the fields here that
share its names override them for every model, the YAML file and config.pbtxt parameters per
model (see :mod:`mlinfer.autoscaler.config`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from mlinfer.autoscaler.policy import PolicyConfig

_D = PolicyConfig()


class AutoscalerSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MLINFER_AUTOSCALER_", env_file=None, extra="ignore"
    )

    actuator: Literal["embedded", "triton"] = Field(
        "embedded",
        description="embedded: mlinfer's admin API; triton: load with a config override.",
    )
    server_url: str = Field(
        "http://127.0.0.1:8000", description="REST URL of the server whose models scale."
    )
    metrics_url: str | None = Field(
        None, description="The server's Prometheus metrics (default: server_url + /metrics)."
    )
    exporter_url: str | None = Field(
        None, description="The exporter's metrics URL (GPU use, temperature, free memory)."
    )
    api_key: SecretStr | None = Field(None, description="API key with the models:admin scope.")
    models: list[str] = Field(
        default_factory=list, description="Models to manage (default: every ready model)."
    )
    config_file: Path | None = Field(None, description="YAML file of per-model overrides.")
    interval_seconds: float = Field(5.0, gt=0, description="Time between two decisions.")
    request_timeout_seconds: float = Field(
        300.0, gt=0, description="Longest wait for one scrape or one scaling action."
    )
    startup_timeout_seconds: float = Field(
        300.0, ge=0, description="How long to wait at start for the server to answer."
    )
    dry_run: bool = Field(False, description="Decide and report, never change instances.")
    host: str = Field("127.0.0.1", description="Address of the autoscaler's own /metrics.")
    port: int = Field(9411, description="Port of the autoscaler's own /metrics (0 = free).")
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING, ...")
    log_format: Literal["json", "text"] = Field("json", description="Decision log format.")

    # Policy defaults for every model (the specification's values).
    min_instances: int = _D.min_instances
    max_instances: int = _D.max_instances
    scale_up_utilization: float = _D.scale_up_utilization
    scale_down_utilization: float = _D.scale_down_utilization
    queue_time_target_us: float = _D.queue_time_target_us
    cooldown_up_s: float = _D.cooldown_up_s
    cooldown_down_s: float = _D.cooldown_down_s
    stable_window_s: float = _D.stable_window_s
    panic_window_s: float = _D.panic_window_s
    panic_min_pending: int = _D.panic_min_pending
    thermal_limit_c: float = _D.thermal_limit_c
    memory_headroom_bytes: int = _D.memory_headroom_bytes
    instance_memory_bytes: int = _D.instance_memory_bytes

    def policy_defaults(self) -> PolicyConfig:
        return PolicyConfig(
            **{name: getattr(self, name) for name in PolicyConfig.__dataclass_fields__}
        )

    @property
    def server_metrics_url(self) -> str:
        return self.metrics_url or self.server_url.rstrip("/") + "/metrics"
