"""Stored training-log analyses: one row per analysis, the result as JSON (the chart is drawn
from it again on request, so the logs themselves are not kept)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from judge_service.errors import NotFound
from judge_service.store.models import Base, utcnow


class TrainingAnalysisRow(Base):
    __tablename__ = "training_analyses"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    verdict: Mapped[str] = mapped_column(String(32))
    metric: Mapped[str | None] = mapped_column(String(200), nullable=True)
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def save(session: Session, row: TrainingAnalysisRow) -> TrainingAnalysisRow:
    session.add(row)
    session.flush()
    return row


def get(session: Session, analysis_id: str) -> TrainingAnalysisRow:
    row = session.get(TrainingAnalysisRow, analysis_id)
    if row is None:
        raise NotFound(f"no training-log analysis '{analysis_id}'; list them with GET /v1/training-logs/analyses",
                       field="id")
    return row


def recent(session: Session, limit: int) -> list[TrainingAnalysisRow]:
    return list(session.scalars(select(TrainingAnalysisRow).order_by(TrainingAnalysisRow.created_at.desc()).limit(limit)))
