"""The fleet's tables: enrolled boxes, and fleet rollouts with every box's status.

A rollout keeps its per-box status in one JSON document (``targets``) beside its wave
plan: one loop writes it, one row holds all a restarted registry needs to resume.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mlinfer.registry.schema import Base, utcnow


class FleetBox(Base):
    __tablename__ = "fleet_boxes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    url: Mapped[str] = mapped_column(String(500))  # the box's REST base URL
    repository: Mapped[str] = mapped_column(String(1000))  # its model repository, as we reach it
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    enrolled_by: Mapped[str] = mapped_column(String(200))
    enrolled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")


class FleetRollout(Base):
    __tablename__ = "fleet_rollouts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    # running | succeeded | partial (waves done, offline boxes pending) | rolled_back | aborted
    state: Mapped[str] = mapped_column(String(20))
    selector: Mapped[dict[str, Any]] = mapped_column(default=dict)
    waves: Mapped[list[Any]] = mapped_column()  # the plan as given: [{"count": 1}, ...]
    wave: Mapped[int] = mapped_column(Integer, default=0)  # the wave in progress
    wave_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    analysis: Mapped[dict[str, Any]] = mapped_column()  # AnalysisConfig, judged per box
    criteria: Mapped[dict[str, Any]] = mapped_column()  # FleetCriteria: soak, abort share
    targets: Mapped[dict[str, Any]] = mapped_column(default=dict)  # box name -> status
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
