"""Eval-set versions in the database: one immutable row per (name, version)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

__all__ = ["EvalSetVersionRow", "Saved", "Session", "get", "names", "save", "versions"]

from judge_service.errors import Conflict, NotFound
from judge_service.evalsets.content import hashes_of, set_hash
from judge_service.store.models import Base, utcnow


class EvalSetVersionRow(Base):
    __tablename__ = "eval_set_versions"
    __table_args__ = (UniqueConstraint("name", "content_hash", name="uq_eval_set_content"),)
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    n_items: Mapped[int] = mapped_column(Integer)
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    item_hashes: Mapped[dict[str, str]] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


@dataclass(frozen=True)
class Saved:
    row: EvalSetVersionRow
    created: bool  # False: this content was already stored under that version


def save(session: Session, name: str, items: list[dict[str, Any]], note: str | None) -> Saved:
    hashes = hashes_of(items)
    content_hash = set_hash(hashes)
    existing = session.scalar(select(EvalSetVersionRow).where(EvalSetVersionRow.name == name,
                                                              EvalSetVersionRow.content_hash == content_hash))
    if existing is not None:
        return Saved(existing, created=False)
    latest = session.scalar(select(EvalSetVersionRow.version).where(EvalSetVersionRow.name == name)
                            .order_by(EvalSetVersionRow.version.desc()).limit(1))
    row = EvalSetVersionRow(name=name, version=(latest or 0) + 1, content_hash=content_hash, n_items=len(items),
                            items=items, item_hashes=hashes, note=note)
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        # Another request saved a version of this name at the same moment: ask the caller to retry
        # rather than guess which content should win the number.
        raise Conflict(f"eval set '{name}' was saved by another request at the same time; send it again",
                       field="name") from None
    return Saved(row, created=True)


def versions(session: Session, name: str) -> list[EvalSetVersionRow]:
    rows = list(session.scalars(select(EvalSetVersionRow).where(EvalSetVersionRow.name == name)
                                .order_by(EvalSetVersionRow.version)))
    if not rows:
        raise NotFound(f"no eval set named '{name}'; create it with POST /v1/eval-sets", field="name")
    return rows


def get(session: Session, name: str, version: int | None) -> EvalSetVersionRow:
    rows = versions(session, name)
    if version is None:
        return rows[-1]
    for row in rows:
        if row.version == version:
            return row
    raise NotFound(f"eval set '{name}' has versions {[r.version for r in rows]}, not {version}", field="version")


def names(session: Session) -> list[tuple[str, int, int]]:
    """(name, latest version, its n_items) for every eval set."""
    latest: dict[str, EvalSetVersionRow] = {}
    for row in session.scalars(select(EvalSetVersionRow).order_by(EvalSetVersionRow.name, EvalSetVersionRow.version)):
        latest[row.name] = row
    return [(n, r.version, r.n_items) for n, r in sorted(latest.items())]
