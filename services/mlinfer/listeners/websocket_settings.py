"""What WebSocket streams are told: :class:`WebSocketSettings` (prefix ``MLINFER_WEBSOCKET_``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

FlowPolicy = Literal["queue", "latest"]


class WebSocketSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MLINFER_WEBSOCKET_", extra="ignore", frozen=True)

    max_message_bytes: int = Field(
        16 * 1024 * 1024, ge=1024, description="Largest WebSocket frame (message) accepted."
    )
    idle_seconds: float = Field(
        60.0, gt=0, description="A stream with no frame and nothing in flight this long is closed."
    )
    max_in_flight: int = Field(
        2, ge=1, description="Frames of one stream inferred at once (answers stay in order)."
    )
    max_waiting: int = Field(
        16, ge=1, description="Frames of one stream waiting for a slot (policy queue)."
    )
    default_policy: FlowPolicy = Field(
        "queue", description="queue: wait when full; latest: drop older waiting frames."
    )
