"""Stored evaluations: which layer results (by id or by value) make up one base-vs-tuned evaluation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from judge_service.errors import NotFound
from judge_service.store.models import Base, utcnow


class EvaluationRow(Base):
    __tablename__ = "evaluations"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    baseline: Mapped[str] = mapped_column(String(200))
    candidate: Mapped[str] = mapped_column(String(200))
    eval_set_name: Mapped[str | None] = mapped_column(String(128), nullable=True)
    eval_set_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    layers: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def get(session: Session, evaluation_id: str) -> EvaluationRow:
    row = session.get(EvaluationRow, evaluation_id)
    if row is None:
        raise NotFound(f"no evaluation '{evaluation_id}'", field="id")
    return row


def recent(session: Session, limit: int = 100) -> list[EvaluationRow]:
    return list(session.scalars(select(EvaluationRow).order_by(EvaluationRow.created_at.desc()).limit(limit)))
