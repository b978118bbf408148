"""Replicas on one database share each judge's limits: every live process takes ``1/N`` of them.

A judge's ``max_concurrency``, ``requests_per_minute`` and ``tokens_per_minute`` describe what its
key allows, whichever process spends it. Each process writes a heartbeat row here every
``replica_beat_seconds``; the processes seen within ``3 ×`` that are the live ones, and each of them
applies ``1/N`` of every limit (``LimitedProvider.set_share``).

Why a share rather than a budget kept in the database: a shared token bucket would cost a database
round trip per judge call (~1,000 calls/s per process at the provider layer) and would make the
database's latency part of every call. A share costs one small write and one count per beat. Its
cost is idle capacity: a replica with no work still holds its share, so a lone busy replica runs
at ``1/N`` of the limit. The share follows the fleet within a beat or two: a replica that starts
is counted at its first beat (the others lower their share at their next one, so for up to one
beat the total can be over the limit by the new replica's share); one that stops hands its share
back at once (its row is deleted); one killed with -9 keeps it until its row is ``3 ×`` the beat
old.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from sqlalchemy import DateTime, String, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from judge_service.store.db import Database
from judge_service.store.models import Base

log = logging.getLogger("judge_service.replicas")


class ReplicaRow(Base):
    __tablename__ = "replicas"
    owner: Mapped[str] = mapped_column(String(120), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


def beat(s: Session, owner: str, now: datetime, alive_after: datetime) -> int:
    """Note this process alive at ``now``; the live replicas (seen since ``alive_after``), it included."""
    insert = postgresql.insert if s.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(ReplicaRow).values(owner=owner, seen_at=now)
    s.execute(stmt.on_conflict_do_update(index_elements=[ReplicaRow.owner], set_={"seen_at": now}))
    # Rows of replicas long gone (killed, never stopped) are cleared here, by whoever beats.
    s.execute(delete(ReplicaRow).where(ReplicaRow.seen_at < alive_after - timedelta(hours=1)))
    return int(s.scalar(select(func.count()).select_from(ReplicaRow).where(ReplicaRow.seen_at >= alive_after)) or 1)


def leave(s: Session, owner: str) -> None:
    s.execute(delete(ReplicaRow).where(ReplicaRow.owner == owner))


class ReplicaShare:
    """The heartbeat loop: counts the live replicas and hands the count to ``apply``."""

    def __init__(self, db: Database, owner: str, apply: Callable[[int], None], beat_seconds: float) -> None:
        self.db = db
        self.owner = owner
        self.apply = apply
        self.beat_seconds = beat_seconds
        self.replicas = 1
        self._task: asyncio.Task[None] | None = None

    async def beat_once(self) -> int:
        now = datetime.now(timezone.utc)
        alive_after = now - timedelta(seconds=3 * self.beat_seconds)
        self.replicas = await self.db.heartbeat(lambda s: beat(s, self.owner, now, alive_after))
        self.apply(self.replicas)
        return self.replicas

    async def _loop(self) -> None:
        while True:
            try:
                await self.beat_once()
            except Exception:  # the database is away: keep the last share, try again at the next beat
                log.exception("replica heartbeat failed; keeping a 1/%d share of the judges' limits", self.replicas)
            await asyncio.sleep(self.beat_seconds)

    async def start(self) -> None:
        """Beat once now, so this process's first calls already use its share, then every beat."""
        try:
            await self.beat_once()
        except Exception:
            log.exception("replica heartbeat failed at start; judging with the whole of the judges' limits")
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="replica-heartbeat")

    async def stop(self) -> None:
        if self._task is not None and self._task.get_loop() is asyncio.get_running_loop():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._task = None
        try:
            await self.db.heartbeat(lambda s: leave(s, self.owner))
        except Exception:  # the database may be gone; the row then simply ages out
            log.warning("could not remove this replica's heartbeat; the others count it for %.0fs more",
                        3 * self.beat_seconds)
