"""What the admin panel is told: :class:`AdminSettings` (environment prefix ``MLINFER_ADMIN_``).

The panel discovers the optional services (model registry, device exporter, autoscaler) by
these URLs and shows "not configured" for the ones left unset.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class AdminSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MLINFER_ADMIN_", extra="ignore", frozen=True)

    enabled: bool = Field(True, description="Serve the admin web panel at /admin.")
    registry_url: str | None = Field(
        None, description="Model registry API base URL shown in the panel; unset = not configured."
    )
    exporter_url: str | None = Field(
        None, description="Device exporter metrics URL shown in the panel; unset = not configured."
    )
    autoscaler_url: str | None = Field(
        None, description="Autoscaler status URL shown in the panel; unset = not configured."
    )
