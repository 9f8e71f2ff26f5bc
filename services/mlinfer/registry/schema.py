"""The registry's tables (SQLAlchemy 2 declarative). Migrations in ``migrations/`` match."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Model(Base):
    __tablename__ = "models"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The deploy or rollout that owns the model right now: one at a time (else 409).
    busy_with: Mapped[str | None] = mapped_column(String(64), nullable=True)


class Version(Base):
    __tablename__ = "versions"
    __table_args__ = (UniqueConstraint("model_id", "number"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"))
    number: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    format: Mapped[str] = mapped_column(String(32))
    config: Mapped[str] = mapped_column(Text)  # config.pbtxt text
    source: Mapped[str] = mapped_column(String(500), default="")
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    pushed_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    artifact_removed: Mapped[bool] = mapped_column(default=False)  # by gc


class Alias(Base):
    __tablename__ = "aliases"
    __table_args__ = (UniqueConstraint("model_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"))
    name: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)


class TrafficPolicy(Base):
    __tablename__ = "traffic_policies"
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"), primary_key=True)
    arms: Mapped[dict[str, Any]] = mapped_column()  # version (str) -> weight (int, sum 100)
    sticky: Mapped[str | None] = mapped_column(String(200), nullable=True)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Deployment(Base):
    __tablename__ = "deployments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"))
    version: Mapped[int] = mapped_column(Integer)
    previous: Mapped[list[Any]] = mapped_column(default=list)  # versions serving before
    state: Mapped[str] = mapped_column(String(20))  # running | succeeded | failed
    reason: Mapped[str] = mapped_column(Text, default="")
    keep_previous: Mapped[bool] = mapped_column(default=False)
    created_by: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Rollout(Base):
    __tablename__ = "rollouts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"))
    kind: Mapped[str] = mapped_column(String(10))  # canary | ab
    baseline: Mapped[int] = mapped_column(Integer)
    candidate: Mapped[int] = mapped_column(Integer)
    # running | paused | promoted | rolled_back | aborted | failed
    state: Mapped[str] = mapped_column(String(20))
    steps: Mapped[list[Any]] = mapped_column()  # canary weights, e.g. [5, 25, 50, 100]
    step: Mapped[int] = mapped_column(Integer, default=0)
    interval_s: Mapped[float] = mapped_column()
    analysis: Mapped[dict[str, Any]] = mapped_column()
    failed_checks: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str] = mapped_column(Text, default="")
    # Counters of both arms when the current step began: analysis judges what came after.
    step_counters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    last_check: Mapped[dict[str, Any]] = mapped_column(default=dict)
    keep_previous: Mapped[bool] = mapped_column(default=False)
    created_by: Mapped[str] = mapped_column(String(200))
    next_check_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuditEvent(Base):
    """Append-only: the migration adds triggers that refuse UPDATE and DELETE."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(50))
    model: Mapped[str] = mapped_column(String(200))
    before: Mapped[dict[str, Any]] = mapped_column(default=dict)
    after: Mapped[dict[str, Any]] = mapped_column(default=dict)
