"""Stored benchmark comparisons (one row each), optionally attached to a judge run."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from judge_service.store.models import Base, utcnow


class BenchmarkComparisonRow(Base):
    __tablename__ = "benchmark_comparisons"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    run_id: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    arms: Mapped[list[Any]] = mapped_column(JSON)  # labels: base first, then tuned / checkpoints
    options: Mapped[dict[str, Any]] = mapped_column(JSON)
    report: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
