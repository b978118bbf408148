"""Tables. Every verdict can be traced to the rubric hash, judge, model, prompt and raw reply."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class RubricVersionRow(Base):
    __tablename__ = "rubric_versions"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    hash: Mapped[str] = mapped_column(String(64))
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(16))  # "file" | "api"
    used: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RubricVariantRow(Base):
    """A rubric variant's hash, recorded when first used: a variant is as immutable as a version."""

    __tablename__ = "rubric_variants"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    variant: Mapped[str] = mapped_column(String(64), primary_key=True)
    hash: Mapped[str] = mapped_column(String(64))
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class JudgmentRow(Base):
    """One absolute judgment or pairwise comparison, as returned to the user."""

    __tablename__ = "judgments"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "judgment" | "comparison"
    rubric_name: Mapped[str] = mapped_column(String(64))
    rubric_version: Mapped[int] = mapped_column(Integer)
    rubric_hash: Mapped[str] = mapped_column(String(64))
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class JudgeCallRow(Base):
    __tablename__ = "judge_calls"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    owner_kind: Mapped[str] = mapped_column(String(16))  # "judgment" | "comparison" | "run_item"
    owner_id: Mapped[str] = mapped_column(String(80), index=True)
    judge: Mapped[str] = mapped_column(String(64))
    provider: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(200))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    messages: Mapped[list[Any]] = mapped_column(JSON)
    cache_key: Mapped[str] = mapped_column(String(64), index=True)
    order: Mapped[str | None] = mapped_column(String(4), nullable=True)
    sample_index: Mapped[int] = mapped_column(Integer, default=0)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    raw_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    structured: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    parsed: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float | None] = mapped_column(Float, nullable=True)
    cached: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CallCacheRow(Base):
    """A successful provider reply, keyed by everything that determines it. Errors never land here."""

    __tablename__ = "call_cache"
    cache_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    judge: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(200))
    reply: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RunRow(Base):
    __tablename__ = "runs"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))  # queued | running | done | failed | cancelled
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)  # rubric ref+hash, judges, mode, systems, options
    total: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class JudgeBatchRow(Base):
    """A provider batch of one run's calls to one judge. Written before it is sent and given the
    provider's id once accepted, so a restarted process polls it instead of sending it again."""

    __tablename__ = "judge_batches"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(40), index=True)
    judge: Mapped[str] = mapped_column(String(64))
    provider_batch_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # submitting | pending | cancelling | collected | cancelled | failed
    status: Mapped[str] = mapped_column(String(16), index=True)
    provider_status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    requests: Mapped[int] = mapped_column(Integer)
    succeeded: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class JudgeBatchRequestRow(Base):
    """One call inside a provider batch; its ``custom_id`` is the call's cache key."""

    __tablename__ = "judge_batch_requests"
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    batch_id: Mapped[str] = mapped_column(String(40), ForeignKey("judge_batches.id"), index=True)
    cache_key: Mapped[str] = mapped_column(String(64), index=True)
    structured: Mapped[bool] = mapped_column(Boolean, default=False)
    attempt: Mapped[int] = mapped_column(Integer, default=0)  # earlier tries of this call (retry policy)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | succeeded | failed
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    retryable: Mapped[bool] = mapped_column(Boolean, default=True)
    # Handed to a call that recorded it: the first hand-over is the paid call, any later one is a
    # cache hit (a process that died after collecting a batch leaves its replies undelivered).
    delivered: Mapped[bool] = mapped_column(Boolean, default=False)


class RunItemRow(Base):
    __tablename__ = "run_items"
    __table_args__ = (UniqueConstraint("run_id", "item_id"),)
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(40), ForeignKey("runs.id"), index=True)
    item_id: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer)
    item: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | done | failed
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class RatingSetRow(Base):
    """Human ratings, identified by the hash of their canonical content."""

    __tablename__ = "rating_sets"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    rubric: Mapped[str | None] = mapped_column(String(80), nullable=True)
    hash: Mapped[str] = mapped_column(String(64))
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CalibrationRow(Base):
    __tablename__ = "calibrations"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))  # running | done | failed
    rating_set_id: Mapped[str] = mapped_column(String(40), ForeignKey("rating_sets.id"))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)  # rubric ref+hash, judges, samples, folds
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    mapping: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RubricPilotRow(Base):
    """A rubric pilot: a small sample judged under every variant × judge, and its report.

    Runs created later with the same rubric version link to the latest pilot of it."""

    __tablename__ = "rubric_pilots"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    rubric_name: Mapped[str] = mapped_column(String(64), index=True)
    rubric_version: Mapped[int] = mapped_column(Integer)
    rubric_hash: Mapped[str] = mapped_column(String(64))  # the base wording's hash
    variants: Mapped[dict[str, Any]] = mapped_column(JSON)  # variant -> its hash
    wording_sensitive: Mapped[bool] = mapped_column(Boolean)
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    report: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
