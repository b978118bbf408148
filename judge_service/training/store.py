"""Stored training-log analyses: the request's file names and options, the result and its chart."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from judge_service.errors import NotFound
from judge_service.store.models import Base, utcnow


class TrainingAnalysisRow(Base):
    __tablename__ = "training_analyses"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    sources: Mapped[list[str]] = mapped_column(JSON)
    options: Mapped[dict[str, Any]] = mapped_column(JSON)
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    chart_svg: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def get(session: Session, analysis_id: str) -> TrainingAnalysisRow:
    row = session.get(TrainingAnalysisRow, analysis_id)
    if row is None:
        raise NotFound(f"no training-log analysis '{analysis_id}'", field="id")
    return row


def recent(session: Session, limit: int = 100) -> list[TrainingAnalysisRow]:
    return list(session.scalars(select(TrainingAnalysisRow).order_by(TrainingAnalysisRow.created_at.desc()).limit(limit)))
