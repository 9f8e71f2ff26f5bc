"""How many processes serve one listener: :class:`WorkersSettings` (``MLINFER_WORKERS_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WorkersSettings(BaseSettings):
    """Worker processes of the REST and gRPC services when they front Triton."""

    model_config = SettingsConfigDict(env_prefix="MLINFER_WORKERS_", extra="ignore", frozen=True)

    count: int = Field(
        1,
        ge=0,
        description="Processes serving the REST and gRPC ports; 0 = one per CPU core. "
        "More than one needs a Triton backend (the embedded engine is per process).",
    )
    reuse_port: bool = Field(
        False,
        description="Bind the ports with SO_REUSEPORT so several processes share them "
        "(set for each worker by the supervisor).",
    )

    def resolved_count(self, cpus: int | None) -> int:
        """The number of workers to start (``0`` is one per core)."""
        return self.count or max(1, cpus or 1)
