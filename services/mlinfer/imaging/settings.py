"""What image inference is told: :class:`ImageSettings` (environment prefix ``MLINFER_IMAGE_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ImageSettings(BaseSettings):
    """Bounds on encoded and decoded images (``POST /infer/image``)."""

    model_config = SettingsConfigDict(env_prefix="MLINFER_IMAGE_", extra="ignore", frozen=True)

    max_bytes: int = Field(
        default=20 * 1024 * 1024, description="Largest encoded image for /infer/image."
    )
    max_pixels: int = Field(
        default=40_000_000, description="Largest decoded image (decompression-bomb guard)."
    )
