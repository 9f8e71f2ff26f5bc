"""What admission control is told: :class:`AdmissionSettings` (prefix ``MLINFER_ADMISSION_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class AdmissionSettings(BaseSettings):
    """The bounded, prioritised wait in front of the backend."""

    model_config = SettingsConfigDict(
        env_prefix="MLINFER_ADMISSION_", extra="ignore", frozen=True
    )

    max_inflight: int = Field(
        64, description="Requests admitted to the backend at once (0 = no admission control)."
    )
    max_queue: int = Field(
        512, description="Requests that may wait for admission; more are shed with 503."
    )
    max_wait_ms: int = Field(
        5000, description="Longest wait for admission before a request is shed with 503."
    )
    default_priority: int = Field(
        2, description="Admission priority of requests without one (1 = highest)."
    )
