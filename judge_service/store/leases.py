"""Run-item leases: which process is judging which item, until when.

A separate table (not columns on ``run_items``) so that ``create_all`` adds it to a database made
by the previous release without a migration. A lease is taken with one conditional upsert
(insert, or take over a row whose lease has expired); the database serialises it, so exactly one
process wins on SQLite and on PostgreSQL alike (ON CONFLICT ... DO UPDATE ... WHERE re-checks the
condition on the committed row).
"""

from __future__ import annotations

from datetime import datetime
from sqlalchemy import DateTime, ForeignKey, Integer, String, delete, select, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from judge_service.store.models import Base, RunItemRow, RunRow


class RunItemLeaseRow(Base):
    __tablename__ = "run_item_leases"
    item_pk: Mapped[int] = mapped_column(Integer, ForeignKey("run_items.pk"), primary_key=True)
    owner: Mapped[str] = mapped_column(String(120), index=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def claim(s: Session, owner: str, now: datetime, expires_at: datetime, limit: int,
          dead_owners: frozenset[str] = frozenset(), busy: frozenset[int] = frozenset()) -> list[int]:
    """Lease up to ``limit`` pending items of active runs; the pks this process now holds.

    ``busy`` are the items this process is judging already: their lease may have run out (a late
    heartbeat) but claiming them again would judge them twice in one process."""
    if limit <= 0:
        return []
    stale = RunItemLeaseRow.expires_at < now
    if dead_owners:
        stale = stale | RunItemLeaseRow.owner.in_(dead_owners)
    candidates = (
        select(RunItemRow.pk)
        .join(RunRow, RunRow.id == RunItemRow.run_id)
        .outerjoin(RunItemLeaseRow, RunItemLeaseRow.item_pk == RunItemRow.pk)
        .where(RunItemRow.status == "pending", RunRow.status.in_(("queued", "running")),
               (RunItemLeaseRow.item_pk.is_(None)) | stale)
        .where(RunItemRow.pk.not_in(busy) if busy else true())
        .order_by(RunRow.created_at, RunItemRow.position)
        .limit(limit)
    )
    dialect = s.get_bind().dialect.name
    if dialect == "postgresql":
        # Rows another process is claiming right now are skipped, not waited for.
        candidates = candidates.with_for_update(of=RunItemRow, skip_locked=True)
    pks = list(s.scalars(candidates))
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    won: list[int] = []
    for pk in pks:
        stmt = insert(RunItemLeaseRow).values(item_pk=pk, owner=owner, expires_at=expires_at)
        excluded_stale = RunItemLeaseRow.expires_at < now
        if dead_owners:
            excluded_stale = excluded_stale | RunItemLeaseRow.owner.in_(dead_owners)
        stmt = stmt.on_conflict_do_update(index_elements=[RunItemLeaseRow.item_pk],
                                          set_={"owner": owner, "expires_at": expires_at}, where=excluded_stale)
        # RETURNING, not rowcount: psycopg reports no rowcount for an upsert through SQLAlchemy.
        if s.execute(stmt.returning(RunItemLeaseRow.item_pk)).first() is not None:
            won.append(pk)
    return won


def renew(s: Session, owner: str, expires_at: datetime) -> set[int]:
    """Heartbeat: push back the expiry of every lease this process holds; the items it still holds."""
    stmt = (update(RunItemLeaseRow).where(RunItemLeaseRow.owner == owner).values(expires_at=expires_at)
            .returning(RunItemLeaseRow.item_pk))
    return set(s.scalars(stmt))


def holds(s: Session, owner: str, pk: int) -> bool:
    return s.scalar(select(RunItemLeaseRow.owner).where(RunItemLeaseRow.item_pk == pk)) == owner


def release(s: Session, owner: str, pks: list[int] | None = None) -> None:
    """Hand leases back (graceful stop, finished items): another process may take them at once."""
    stmt = delete(RunItemLeaseRow).where(RunItemLeaseRow.owner == owner)
    if pks is not None:
        stmt = stmt.where(RunItemLeaseRow.item_pk.in_(pks))
    s.execute(stmt)


def owners(s: Session) -> set[str]:
    return set(s.scalars(select(RunItemLeaseRow.owner).distinct()))
