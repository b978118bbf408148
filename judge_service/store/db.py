"""Database engine and sessions. SQLite (a file under the data dir) by default, PostgreSQL by URL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from judge_service.store.migrate import migrate

T = TypeVar("T")


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets readers and one writer work at once; busy_timeout makes concurrent writers
            # wait instead of failing with "database is locked".
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


class Database:
    def __init__(self, url: str, *, max_threads: int = 8) -> None:
        self.url = url
        self.engine = make_engine(url)
        migrate(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Database work from async code runs here, never on the event loop: a synchronous session
        # on the loop stalls every other request (/healthz included). Bounded, so a burst of
        # requests queues for a connection instead of opening hundreds.
        # Three lanes, each made on first use (and again after close(): an app may be restarted):
        # - "pool": bounded, so a burst of requests queues for a connection instead of opening hundreds;
        # - "writer": what a paid call leaves behind (its cache row, its call record), never queued
        #   behind reads: until it commits, a crash makes the call be paid again;
        # - "heartbeat": lease renewals; queued behind a busy pool on a loaded host, a renewal arrives
        #   after the lease expired and another process judges the items again.
        self._sizes = {"pool": max_threads, "writer": 1, "heartbeat": 1}
        self._lanes: dict[str, ThreadPoolExecutor] = {}

    async def _on(self, lane: str, work: Callable[[Session], T]) -> T:
        def in_transaction() -> T:
            with self.session() as s:
                return work(s)

        if lane not in self._lanes:
            self._lanes[lane] = ThreadPoolExecutor(max_workers=self._sizes[lane], thread_name_prefix=f"db-{lane}")
        return await asyncio.get_running_loop().run_in_executor(self._lanes[lane], in_transaction)

    async def run(self, work: Callable[[Session], T]) -> T:
        """Run ``work(session)`` in one transaction on the database thread pool and await it."""
        return await self._on("pool", work)

    async def write_now(self, work: Callable[[Session], T]) -> T:
        """Like ``run``, on the dedicated writer thread: for writes that make paid work durable."""
        return await self._on("writer", work)

    async def heartbeat(self, work: Callable[[Session], T]) -> T:
        """Like ``run``, on a thread kept for lease renewals, so they never wait behind other work."""
        return await self._on("heartbeat", work)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed on success, rolled back on any error."""
        with self._sessions() as s:
            try:
                yield s
                s.commit()
            except BaseException:
                s.rollback()
                raise

    def close(self) -> None:
        for lane in self._lanes.values():
            lane.shutdown(wait=True)
        self._lanes.clear()
        self.engine.dispose()
