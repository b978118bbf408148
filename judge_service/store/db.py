"""Database engine and sessions. SQLite (a file under the data dir) by default, PostgreSQL by URL."""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pydantic_core
from sqlalchemy import Table, create_engine, event, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from judge_service.store.migrate import migrate

T = TypeVar("T")


@dataclass(frozen=True)
class InsertRow:
    """A plain insert for ``Database.write_grouped``: a group's inserts into one table go as one
    executemany (~60 us a row instead of ~150 for one statement each). Inserts into different tables
    are assumed to commute (the request path's tables have no foreign keys between them)."""

    table: Table
    values: dict[str, Any]


@dataclass(frozen=True)
class InsertIgnore:
    """An insert-or-ignore for ``Database.write_grouped``, whose result is whether this row was stored
    (False: a row with the same ``key`` was there first, from another process or earlier in the group).
    A group's rows into one table go as one executemany with RETURNING the keys that went in."""

    table: Table
    values: dict[str, Any]
    key: str


Work = Callable[[Session], Any] | InsertRow | InsertIgnore


def json_text(value: Any) -> str:
    """The JSON columns' serializer: pydantic-core's encoder, ~3x faster than ``json.dumps`` on the
    request path's rows (rendered prompts, replies, verdicts), which the writer thread encodes while
    holding the GIL. What it cannot encode (a lone surrogate in a provider's reply) goes through
    ``json.dumps``, which escapes it, so every row that was storable stays storable."""
    try:
        return pydantic_core.to_json(value).decode()
    except (pydantic_core.PydanticSerializationError, ValueError):
        return json.dumps(value)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                               json_serializer=json_text)

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
    return create_engine(url, pool_pre_ping=True, json_serializer=json_text)


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
        # One commit group per event loop (an app may be entered from several loops: in-process clients).
        self._groups: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _CommitGroup] = weakref.WeakKeyDictionary()

    async def _on(self, lane: str, work: Callable[[Session], T]) -> T:
        def in_transaction() -> T:
            with self.session() as s:
                return work(s)

        return await asyncio.get_running_loop().run_in_executor(self._lane(lane), in_transaction)

    def _lane(self, lane: str) -> ThreadPoolExecutor:
        if lane not in self._lanes:
            self._lanes[lane] = ThreadPoolExecutor(max_workers=self._sizes[lane], thread_name_prefix=f"db-{lane}")
        return self._lanes[lane]

    async def run(self, work: Callable[[Session], T]) -> T:
        """Run ``work(session)`` in one transaction on the database thread pool and await it."""
        return await self._on("pool", work)

    async def write_now(self, work: Callable[[Session], T]) -> T:
        """Like ``run``, on the dedicated writer thread: for writes that make paid work durable."""
        return await self._on("writer", work)

    async def insert_grouped(self, table: Table, values: dict[str, Any]) -> None:
        """``write_grouped`` for one plain row: committed when this returns."""
        await self.write_grouped(InsertRow(table, values))

    async def insert_or_ignore_grouped(self, table: Table, values: dict[str, Any], key: str) -> bool:
        """``write_grouped`` for an insert-or-ignore: True when this row is the one stored."""
        stored: bool = await self.write_grouped(InsertIgnore(table, values, key))
        return stored

    async def write_grouped(self, work: Callable[[Session], T] | InsertRow | InsertIgnore) -> T:
        """Like ``write_now`` (committed when this returns), but grouped: every write queued while the
        previous group commits goes in the next one, one transaction and one thread hop for them all.

        For the request path's many small inserts (call records, cache rows, verdicts): under load a
        group holds tens of them, so each costs a fraction of a commit. Nothing is written behind: the
        caller still resumes only after its row is committed. A group whose transaction fails is
        replayed one work per transaction, so one bad row fails only its own caller. A work may
        therefore run twice: it must only touch the session."""
        loop = asyncio.get_running_loop()
        group = self._groups.get(loop)
        if group is None:
            group = self._groups[loop] = _CommitGroup(self)
        return await group.submit(work)

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

    def _run_group(self, works: list[Work]) -> list[tuple[bool, Any]]:
        """In the writer thread: every work in one transaction; if it fails, each work alone."""
        try:
            with self.session() as s:
                return _run_works(s, works)
        except Exception as e:
            if len(works) == 1:
                return [(False, e)]
        out: list[tuple[bool, Any]] = []
        for work in works:
            try:
                with self.session() as s:
                    result = _run_works(s, [work])[0]
            except Exception as e:  # the work or its commit
                result = (False, e)
            out.append(result)
        return out

    def close(self) -> None:
        for lane in self._lanes.values():
            lane.shutdown(wait=True)
        self._lanes.clear()
        self.engine.dispose()


def _run_works(s: Session, works: list[Work]) -> list[tuple[bool, Any]]:
    """The works in order, each table's pending plain inserts (and insert-or-ignores) executed as one
    statement before the next callable (which may read them)."""
    out: list[tuple[bool, Any]] = []
    pending: dict[Table, list[dict[str, Any]]] = {}
    ignoring: dict[tuple[Table, str], list[tuple[int, dict[str, Any]]]] = {}

    def flush() -> None:
        for table, rows in pending.items():
            s.connection().execute(insert(table), rows)
        pending.clear()
        for (table, key), entries in ignoring.items():
            stmt = (postgresql.insert if s.get_bind().dialect.name == "postgresql" else sqlite.insert)(table)
            stored = {row[0] for row in s.connection().execute(
                stmt.on_conflict_do_nothing().returning(table.c[key]), [values for _, values in entries])}
            for index, values in entries:  # the first of a key in the group is the one stored
                out[index] = (True, values[key] in stored)
                stored.discard(values[key])
        ignoring.clear()

    for work in works:
        if isinstance(work, InsertRow):
            pending.setdefault(work.table, []).append(work.values)
            out.append((True, None))
        elif isinstance(work, InsertIgnore):
            ignoring.setdefault((work.table, work.key), []).append((len(out), work.values))
            out.append((True, False))
        else:
            flush()
            out.append((True, work(s)))
    flush()
    return out


def fail_waiters(futures: list[asyncio.Future[Any]], e: BaseException, stopped: str) -> None:
    """A drain task's batch failed: its waiters get the error (``stopped`` when the task itself was
    cancelled); a cancellation is raised on, so the drain task ends."""
    for fut in futures:
        if not fut.done():
            fut.set_exception(e if isinstance(e, Exception) else RuntimeError(stopped))
    if not isinstance(e, Exception):
        raise e


class _CommitGroup:
    """The queue behind ``Database.write_grouped`` on one event loop: one drain task at a time takes
    everything queued and commits it on the writer lane. No timer: a group is what arrived while the
    last one was committing, so a lone write waits for nothing and a burst shares commits."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.queue: list[tuple[Work, asyncio.Future[Any]]] = []
        self.draining: asyncio.Task[None] | None = None

    async def submit(self, work: Callable[[Session], T] | InsertRow | InsertIgnore) -> T:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[T] = loop.create_future()
        self.queue.append((work, fut))
        if self.draining is None or self.draining.done():
            # Its own task: a caller cancelled (its client went away) must not cancel the others' commit.
            self.draining = loop.create_task(self._drain())
        return await fut

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self.queue:
            group, self.queue = self.queue, []
            works = [w for w, _ in group]
            try:
                results = await loop.run_in_executor(self.db._lane("writer"), self.db._run_group, works)
            except BaseException as e:  # the lane shut down (app stopping) or this task was cancelled
                fail_waiters([fut for _, fut in group], e, "database writer stopped")
                continue
            for (_, fut), (ok, value) in zip(group, results):
                if fut.done():  # its caller was cancelled; the row is committed all the same
                    continue
                if ok:
                    fut.set_result(value)
                else:
                    fut.set_exception(value)
        self.draining = None  # the finished task refers to its loop: let a closed loop go
