"""What the admin panel is told: :class:`AdminSettings` (environment prefix ``MLINFER_ADMIN_``).

The panel discovers the optional services (model registry, device exporter, autoscaler) by
these URLs and shows "not configured" for the ones left unset. The browser reaches them
through the gateway (this origin): none of them answers cross-origin requests.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class AdminSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MLINFER_ADMIN_", extra="ignore", frozen=True)

    enabled: bool = Field(True, description="Serve the admin web panel at /admin.")
    registry_url: str | None = Field(
        None,
        description="Registry base URL the panel reaches through /admin/api/registry (unset: "
        "the registry this server hosts or subscribes to, else not configured).",
    )
    exporter_url: str | None = Field(
        None,
        description="Device exporter /metrics URL the panel reads through /admin/api/exporter; "
        "unset = not configured.",
    )
    autoscaler_url: str | None = Field(
        None,
        description="Autoscaler /metrics URL the panel reads through /admin/api/autoscaler; "
        "unset = not configured.",
    )
