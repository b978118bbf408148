"""Judge calls sent through a provider's batch API: same calls, about half the price, answered later.

``JudgeCaller`` hands a call here instead of to ``provider.complete`` when its judge has a batch
lane (a run whose spec says ``execution: batch`` for it). Everything around the provider call is
unchanged: the call was rendered the same way, its cache key is the same, its reply goes through
the same parser and is recorded and cached like any other. What changes is the transport:

1. calls wait in a lane (run, judge) until none arrived for ``batch_collect_seconds``, then go
   out as provider batches split at the provider's request and byte limits. Each batch and its
   requests (``custom_id`` = the cache key) are written to ``judge_batches`` /
   ``judge_batch_requests`` *before* it is sent, and given the provider's batch id once accepted;
2. one poller per process polls every pending batch in the database (so a restarted process
   resumes a predecessor's batches without sending anything again); when a batch has ended its
   successes are cached and every request's fate is stored in one transaction;
3. a call waiting on a batch gets its reply from the cache (latency = submission to the end of
   the batch; billed at the batch price, ``JudgeReply.batched``), or its failure. Failed and
   expired requests are tried again per the judge's retry policy (``max_attempts``): in the next
   batch, or directly when fewer than ``batch_direct_below`` remain. An unparseable reply is the
   caller's usual bounded re-ask: a new call (new cache key), batched like the first.

A call that arrives after a restart finds its request still pending in a stored batch and waits
on that batch. The one window left open: a process killed between the provider accepting a
batch and the provider's id being stored; that batch is unknown to us and its calls are sent again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from judge_service.engine.verdicts import new_id
from judge_service.errors import JudgeError
from judge_service.judges.base import JudgeReply, JudgeRequest
from judge_service.judges.batch import BatchAPI, BatchOutcome, BatchState
from judge_service.judges.registry import Judge
from judge_service.store.db import Database
from judge_service.store.models import CallCacheRow, JudgeBatchRequestRow, JudgeBatchRow

log = logging.getLogger("judge_service.batches")
ACTIVE = ("pending", "cancelling")  # batches the poller follows
CANCELLED_RUN = "the run was cancelled"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=timezone.utc)  # SQLite hands back naive datetimes


@dataclass(eq=False)
class _Waiter:
    judge: Judge
    request: JudgeRequest
    key: str
    future: asyncio.Future[JudgeReply]
    attempt: int = 0  # earlier tries of this call
    batch_id: str | None = None  # the stored batch it waits on; None while queued

    @property
    def lane(self) -> str:
        assert self.judge.batch_lane is not None
        return self.judge.batch_lane


CacheRow = Callable[[Judge, str, JudgeReply], dict[str, Any]]


class BatchExecutor:
    def __init__(self, db: Database, judge_for: Callable[[str], Awaitable[Judge]], cache_row: CacheRow, *,
                 collect_seconds: float = 5.0, poll_seconds: float = 30.0, direct_below: int = 20) -> None:
        self.db = db
        self._judge_for = judge_for
        self._cache_row = cache_row
        self.collect_seconds = collect_seconds
        self.poll_seconds = poll_seconds
        self.direct_below = direct_below
        self._waiters: dict[str, _Waiter] = {}
        self._queued: dict[tuple[str, str], list[_Waiter]] = {}
        self._last_queued: dict[tuple[str, str], float] = {}
        self._flushers: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._poller: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self.stats = {"submitted_batches": 0, "submitted_requests": 0, "direct_retries": 0}

    # -- the caller's side ----------------------------------------------------------------------

    async def complete(self, judge: Judge, request: JudgeRequest, key: str) -> JudgeReply:
        """The reply to one call, through the judge's batch lane. Raises JudgeError on failure."""
        self._ensure_poller()
        waiter = _Waiter(judge, request, key, asyncio.get_running_loop().create_future())
        self._waiters[key] = waiter
        try:
            latest = await self.db.run(lambda s: _latest_request(s, key))
            if latest is not None and latest[1] == "pending" and latest[3] in ("pending", "cancelling"):
                waiter.batch_id, waiter.attempt = latest[0], latest[2]  # sent before a restart: wait on it
            elif latest is not None and latest[1] == "succeeded":
                # Collected between the caller's cache read and now: the reply is in the cache.
                cached = await self.db.run(lambda s: s.get(CallCacheRow, key))
                if cached is not None:
                    from judge_service.engine.call import reply_from_json
                    await self.first_delivery(key)
                    return reply_from_json(dict(cached.reply))
                self._enqueue(waiter)
            else:
                if latest is not None and latest[1] == "failed":
                    waiter.attempt = latest[2] + 1
                self._enqueue(waiter)
            return await waiter.future
        finally:
            if self._waiters.get(key) is waiter:
                del self._waiters[key]

    async def first_delivery(self, key: str) -> bool:
        """True once per batched reply: whether this hand-over of the cached reply is its paid call."""
        def claim(s: Session) -> bool:
            done = s.execute(update(JudgeBatchRequestRow).where(
                JudgeBatchRequestRow.cache_key == key, JudgeBatchRequestRow.status == "succeeded",
                JudgeBatchRequestRow.delivered.is_(False)).values(delivered=True))
            return bool(done.rowcount)  # type: ignore[attr-defined]

        return await self.db.write_now(claim)

    def _enqueue(self, waiter: _Waiter) -> None:
        waiter.batch_id = None
        lane = (waiter.lane, waiter.judge.name)
        self._queued.setdefault(lane, []).append(waiter)
        self._last_queued[lane] = time.monotonic()
        flusher = self._flushers.get(lane)
        if flusher is None or flusher.done():
            self._flushers[lane] = asyncio.get_running_loop().create_task(self._flush(lane), name=f"batch-lane-{lane}")

    def _fail(self, waiter: _Waiter, message: str, retryable: bool) -> None:
        """A failed try: again (per the judge's retry policy) or the call's final error."""
        if waiter.future.done():
            return
        waiter.attempt += 1
        if retryable and waiter.attempt < waiter.judge.spec.max_attempts and message != CANCELLED_RUN:
            self._enqueue(waiter)
        else:
            waiter.future.set_exception(JudgeError(message, retryable=retryable))

    # -- sending --------------------------------------------------------------------------------

    async def _flush(self, lane: tuple[str, str]) -> None:
        first = time.monotonic()
        # Wait for the lane to go quiet (a run's items render their calls over a few moments),
        # but never longer than 10 collect periods, so a steady trickle still goes out.
        while True:
            quiet_for = time.monotonic() - self._last_queued.get(lane, 0.0)
            if quiet_for >= self.collect_seconds or time.monotonic() - first >= 10 * self.collect_seconds:
                break
            await asyncio.sleep(self.collect_seconds - quiet_for if quiet_for < self.collect_seconds else 0)
        waiters = [w for w in self._queued.pop(lane, []) if not w.future.done()]
        self._flushers.pop(lane, None)
        if not waiters:
            return
        try:
            await self._send(waiters)
        except Exception as e:  # noqa: BLE001 - the calls fail with the reason rather than hang
            log.exception("sending a batch for %s failed", lane)
            for w in waiters:
                if not w.future.done():
                    w.future.set_exception(JudgeError(f"could not send the batch: {type(e).__name__}: {e}", retryable=False))

    async def _send(self, waiters: list[_Waiter]) -> None:
        judge = waiters[0].judge
        api = judge.batch_api()
        retries_only = all(w.attempt > 0 for w in waiters)
        if api is None or (retries_only and len(waiters) < self.direct_below):
            await asyncio.gather(*(self._direct(w) for w in waiters))
            return
        for chunk in _split(api, waiters):
            await self._submit(judge, api, chunk)

    async def _direct(self, waiter: _Waiter) -> None:
        """A retry sent as an ordinary call (behind the judge's own limits and retries)."""
        self.stats["direct_retries"] += 1
        try:
            reply = await waiter.judge.provider.complete(waiter.request)
        except JudgeError as e:
            if not waiter.future.done():
                waiter.future.set_exception(e)
            return
        values = self._cache_row(waiter.judge, waiter.key, reply)
        await self.db.write_now(lambda s: _insert_cache(s, [values]))
        if not waiter.future.done():
            waiter.future.set_result(reply)

    async def _submit(self, judge: Judge, api: BatchAPI, waiters: list[_Waiter]) -> None:
        batch_id = new_id("jb")
        lane = waiters[0].lane

        def write(s: Session) -> None:
            s.add(JudgeBatchRow(id=batch_id, run_id=lane, judge=judge.name, status="submitting", requests=len(waiters)))
            s.flush()
            s.add_all([JudgeBatchRequestRow(batch_id=batch_id, cache_key=w.key, attempt=w.attempt,
                                            structured=bool(judge.spec.structured_output and w.request.output_schema))
                       for w in waiters])

        await self.db.write_now(write)
        for w in waiters:
            w.batch_id = batch_id
        try:
            provider_id = await api.submit([(w.key, w.request) for w in waiters], label=f"{lane}-{batch_id}")
        except JudgeError as e:
            message, retryable = e.message, e.retryable
            await self.db.write_now(lambda s: _settle(s, batch_id, "failed", message, {}, retryable=retryable))
            for w in waiters:
                self._fail(w, message, retryable)
            return
        self.stats["submitted_batches"] += 1
        self.stats["submitted_requests"] += len(waiters)

        def accepted(s: Session) -> None:
            s.execute(update(JudgeBatchRow).where(JudgeBatchRow.id == batch_id)
                      .values(provider_batch_id=provider_id, status="pending", submitted_at=_now()))

        await self.db.write_now(accepted)
        log.info("sent batch %s (%s at the provider): %d calls to judge %s for run %s",
                 batch_id, provider_id, len(waiters), judge.name, lane)
        if self._wake is not None:
            self._wake.set()

    # -- polling --------------------------------------------------------------------------------

    def _ensure_poller(self) -> None:
        loop = asyncio.get_running_loop()
        if self._poller is None or self._poller.done() or self._poller.get_loop() is not loop:
            self._wake = asyncio.Event()
            self._poller = loop.create_task(self._poll_loop(), name="batch-poller")

    def start(self) -> None:
        """Follow the batches a previous process left pending (called at service start)."""
        self._ensure_poller()

    async def stop(self) -> None:
        tasks = [t for t in (self._poller, *self._flushers.values()) if t is not None]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._poller = None
        self._flushers.clear()

    async def _poll_loop(self) -> None:
        while True:
            try:
                await self.poll_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("polling batches failed; trying again")
            assert self._wake is not None
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
            except asyncio.TimeoutError:
                pass

    async def poll_once(self) -> None:
        rows = await self.db.run(lambda s: [
            (r.id, r.judge, r.provider_batch_id, r.status, r.submitted_at)
            for r in s.scalars(select(JudgeBatchRow).where(JudgeBatchRow.status.in_(ACTIVE)))])
        for batch_id, judge_name, provider_id, status, submitted_at in rows:
            try:
                judge = await self._judge_for(judge_name)
                api = judge.batch_api()
                if api is None or provider_id is None:
                    continue
                state = await api.poll(provider_id)
            except Exception as e:  # noqa: BLE001 - one batch's trouble must not stop the others
                log.warning("polling batch %s failed: %s", batch_id, getattr(e, "message", e))
                continue

            def progress(s: Session, batch_id: str = batch_id, state: BatchState = state) -> None:
                s.execute(update(JudgeBatchRow).where(JudgeBatchRow.id == batch_id, JudgeBatchRow.status.in_(ACTIVE))
                          .values(provider_status=state.provider_status, succeeded=state.succeeded, failed=state.failed))

            await self.db.write_now(progress)
            if state.ended:
                await self._collect(batch_id, judge, api, provider_id, status, submitted_at)
        await self._resolve_waiters()

    async def _collect(self, batch_id: str, judge: Judge, api: BatchAPI, provider_id: str, status: str,
                       submitted_at: datetime | None) -> None:
        requests = await self.db.run(lambda s: {
            r.cache_key: r.structured for r in s.scalars(select(JudgeBatchRequestRow).where(JudgeBatchRequestRow.batch_id == batch_id))})
        try:
            outcomes = await api.results(provider_id, requests)
        except JudgeError as e:
            if e.retryable:
                log.warning("reading the results of batch %s failed (%s); trying again at the next poll", batch_id, e.message)
                return
            message = e.message
            await self.db.write_now(lambda s: _settle(s, batch_id, "failed", message, {}, retryable=False))
            return
        ended = _now()
        latency_ms = (ended - _aware(submitted_at)).total_seconds() * 1000.0 if submitted_at else 0.0
        by_key: dict[str, BatchOutcome] = {o.custom_id: o for o in outcomes if o.custom_id in requests}
        cache_rows = []
        for o in by_key.values():
            if o.reply is not None:
                reply = dataclasses.replace(o.reply, latency_ms=latency_ms, batched=True)
                cache_rows.append(self._cache_row(judge, o.custom_id, reply))
        final = "cancelled" if status == "cancelling" else "collected"
        await self.db.write_now(lambda s: _settle(s, batch_id, final, None, by_key, cache_rows=cache_rows))
        log.info("batch %s ended: %d answered, %d failed", batch_id, len(cache_rows), len(requests) - len(cache_rows))

    async def _resolve_waiters(self) -> None:
        """Hand stored results to this process's calls waiting on ended batches."""
        waiting = [w for w in self._waiters.values() if w.batch_id is not None and not w.future.done()]
        if not waiting:
            return
        batch_ids = {w.batch_id for w in waiting}

        def read(s: Session) -> dict[tuple[str, str], tuple[str, str | None, bool, dict[str, Any] | None]]:
            rows = s.execute(select(JudgeBatchRequestRow.batch_id, JudgeBatchRequestRow.cache_key, JudgeBatchRequestRow.status,
                                    JudgeBatchRequestRow.error, JudgeBatchRequestRow.retryable)
                             .where(JudgeBatchRequestRow.batch_id.in_(batch_ids), JudgeBatchRequestRow.status != "pending"))
            done = {(b, k): (st, err, retry) for b, k, st, err, retry in rows}
            keys = [k for (_b, k), v in done.items() if v[0] == "succeeded"]
            replies = {r.cache_key: dict(r.reply) for r in s.scalars(select(CallCacheRow).where(CallCacheRow.cache_key.in_(keys)))}
            mine = [k for k in keys if k in self._waiters]
            if mine:  # these calls are the paid ones
                s.execute(update(JudgeBatchRequestRow).where(JudgeBatchRequestRow.batch_id.in_(batch_ids),
                                                             JudgeBatchRequestRow.cache_key.in_(mine))
                          .values(delivered=True))
            return {bk: (st, err, retry, replies.get(bk[1])) for bk, (st, err, retry) in done.items()}

        done = await self.db.write_now(read)
        from judge_service.engine.call import reply_from_json
        for w in waiting:
            assert w.batch_id is not None
            entry = done.get((w.batch_id, w.key))
            if entry is None or w.future.done():
                continue
            status, error, retryable, reply = entry
            if status == "succeeded" and reply is not None:
                w.future.set_result(reply_from_json(reply))
            else:
                self._fail(w, error or "the batch gave no result for this call", retryable)

    # -- cancelling -----------------------------------------------------------------------------

    async def cancel_lane(self, lane: str) -> int:
        """Cancel a run's batches at the provider and fail its waiting calls; how many were cancelled."""
        for key, queued in list(self._queued.items()):
            if key[0] == lane:
                for w in self._queued.pop(key):
                    if not w.future.done():
                        w.future.set_exception(JudgeError(CANCELLED_RUN))
        rows = await self.db.run(lambda s: [(r.id, r.judge, r.provider_batch_id) for r in s.scalars(
            select(JudgeBatchRow).where(JudgeBatchRow.run_id == lane, JudgeBatchRow.status.in_(("pending", "submitting"))))])
        cancelled = 0
        for batch_id, judge_name, provider_id in rows:
            if provider_id is not None:
                try:
                    api = (await self._judge_for(judge_name)).batch_api()
                    if api is not None:
                        await api.cancel(provider_id)
                except Exception as e:  # noqa: BLE001 - cancel the others; this one ends within its window
                    log.warning("cancelling batch %s failed: %s", batch_id, getattr(e, "message", e))
                    continue
            cancelled += 1

            # Not accepted yet (or lost at submission): nothing to collect, cancelled outright.
            after = "cancelling" if provider_id is not None else "cancelled"

            def mark(s: Session, batch_id: str = batch_id, after: str = after) -> None:
                s.execute(update(JudgeBatchRow).where(JudgeBatchRow.id == batch_id, JudgeBatchRow.status.in_(("pending", "submitting")))
                          .values(status=after))

            await self.db.write_now(mark)
        for w in list(self._waiters.values()):
            if w.judge.batch_lane == lane and not w.future.done():
                w.future.set_exception(JudgeError(CANCELLED_RUN))
        if self._wake is not None:
            self._wake.set()  # collect what the provider answered before the cancel (it is billed)
        return cancelled


def _split(api: BatchAPI, waiters: list[_Waiter]) -> list[list[_Waiter]]:
    """Consecutive chunks within the provider's per-batch request count and byte size."""
    chunks: list[list[_Waiter]] = [[]]
    size = 0
    for w in waiters:
        n = api.request_line_bytes(w.key, w.request)
        if chunks[-1] and (len(chunks[-1]) >= api.max_requests or size + n > api.max_bytes):
            chunks.append([])
            size = 0
        chunks[-1].append(w)
        size += n
    return chunks


def _latest_request(s: Session, key: str) -> tuple[str, str, int, str] | None:
    """(batch id, request status, attempt, batch status) of the newest stored try of this call."""
    row = s.execute(select(JudgeBatchRequestRow.batch_id, JudgeBatchRequestRow.status, JudgeBatchRequestRow.attempt,
                           JudgeBatchRow.status)
                    .join(JudgeBatchRow, JudgeBatchRow.id == JudgeBatchRequestRow.batch_id)
                    .where(JudgeBatchRequestRow.cache_key == key)
                    .order_by(JudgeBatchRequestRow.pk.desc()).limit(1)).first()
    return None if row is None else (row[0], row[1], row[2], row[3])


def _insert_cache(s: Session, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    stmt = postgresql.insert if s.get_bind().dialect.name == "postgresql" else sqlite.insert
    s.execute(stmt(CallCacheRow).values(rows).on_conflict_do_nothing())


def _settle(s: Session, batch_id: str, status: str, error: str | None, outcomes: dict[str, BatchOutcome], *,
            retryable: bool = True, cache_rows: list[dict[str, Any]] | None = None) -> None:
    """A batch's end, in one transaction: successes cached, every request's fate stored. Only the
    first process to settle a batch does anything (another replica may have collected it)."""
    won = s.execute(update(JudgeBatchRow).where(JudgeBatchRow.id == batch_id,
                                                JudgeBatchRow.status.in_(("submitting", "pending", "cancelling")))
                    .values(status=status, error=error, ended_at=_now()))
    if won.rowcount == 0:  # type: ignore[attr-defined]
        return
    _insert_cache(s, cache_rows or [])
    for row in s.scalars(select(JudgeBatchRequestRow).where(JudgeBatchRequestRow.batch_id == batch_id)):
        o = outcomes.get(row.cache_key)
        if o is not None and o.reply is not None:
            row.status = "succeeded"
        else:
            row.status = "failed"
            row.error = (o.error if o is not None else None) or error or "the batch gave no result for this call"
            row.retryable = o.retryable if o is not None else retryable
