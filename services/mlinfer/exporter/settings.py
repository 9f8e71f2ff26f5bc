"""Exporter settings (env prefix ``MLINFER_EXPORTER_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

CollectorName = Literal["nvml", "tegrastats", "sysfs", "host"]
ALL_COLLECTORS: tuple[CollectorName, ...] = ("nvml", "tegrastats", "sysfs", "host")


class ExporterSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MLINFER_EXPORTER_", env_file=None, extra="ignore")

    host: str = Field("127.0.0.1", description="Address /metrics binds (0.0.0.0 in compose).")
    port: int = Field(9400, ge=0, le=65535, description="Port of /metrics (0 = any free).")
    interval_seconds: float = Field(2.0, gt=0, description="Time between two samples.")
    collectors: list[CollectorName] = Field(
        default_factory=lambda: list(ALL_COLLECTORS),
        description="Collectors to run; each reports its own health, none is required.",
    )
    tegrastats_command: str = Field("tegrastats", description="tegrastats executable (Jetson).")
    tegrastats_interval_ms: int = Field(1000, gt=0, description="tegrastats --interval.")
    sysfs_root: Path = Field(Path("/"), description="Root under which /sys and /etc are read.")
    process_names: list[str] = Field(
        default_factory=lambda: ["mlinfer", "tritonserver"],
        description="Serving processes whose RSS and GPU memory are reported.",
    )
    disk_mountpoints: list[str] = Field(
        default_factory=lambda: ["/"], description="Mount points whose disk use is reported."
    )
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING, ...")
    log_format: Literal["json", "text"] = Field("json", description="Log line format.")
