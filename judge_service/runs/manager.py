"""Background execution of runs, shared by any number of service processes on one database.

Work is handed out item by item through leases (store/leases.py): a process claims pending items
of any active run (an owner and an expiry), renews its leases with a heartbeat, writes an item's
verdict only while it still holds the lease and only once (``status = 'pending'`` is part of the
update), and hands its leases back on a graceful stop. A process that dies stops renewing; its
items become claimable when the lease expires (at once when the dead owner was a process on this
host that no longer exists). No process ever resumes a run wholesale, so a live process's work is
never judged twice.

Every judge call is cached the moment it succeeds, so an item taken over replays the calls its
previous owner finished; only calls in flight at a crash are made again.

A run whose spec sends a judge's calls through the provider's batch API (``execution``,
engine/batch.py) has its items wait minutes to hours on a batch while holding no judge slot, so
such items do not count against ``item_concurrency`` (up to ``run_batch_item_limit`` of them):
every item of the run is claimed at once and its calls go out together.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import socket
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import SQLAlchemyError

from judge_service.context import AppContext
from judge_service.engine.verdicts import recorded_ref
from judge_service.errors import ServiceError
from judge_service.rubrics.model import Rubric
from judge_service.runs.evaluate import evaluate_item
from judge_service.store import leases
from judge_service.store.models import RunItemRow, RunRow

log = logging.getLogger("judge_service.runs")
HOST = socket.gethostname()


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _dead_local_owners(names: set[str], me: str) -> frozenset[str]:
    """Owners that were processes on this host and are gone: their leases need not wait to expire."""
    dead = set()
    for name in names:
        host, _, rest = name.partition(":")
        pid_text = rest.split(":", 1)[0]
        if name == me or host != HOST or not pid_text.isdigit():
            continue
        pid = int(pid_text)
        if pid == os.getpid():  # an earlier incarnation of this process id (e.g. pid 1 in a restarted container)
            dead.add(name)
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            dead.add(name)
        except PermissionError:
            pass  # alive, someone else's
    return frozenset(dead)


def item_error(e: BaseException) -> str:
    """What an item's ``error`` says: the service's own message, never raw SQL or a driver's text."""
    if isinstance(e, ServiceError):
        return e.message
    if isinstance(e, SQLAlchemyError):
        return "the database refused this item's result; see the service log"
    return f"{type(e).__name__}: {e}"


class RunManager:
    STOP_WAIT_SECONDS = 10.0

    def __init__(self, ctx: AppContext, item_concurrency: int = 16, lease_seconds: float | None = None,
                 poll_seconds: float = 1.0) -> None:
        self.ctx = ctx
        self.item_concurrency = item_concurrency
        self.lease_seconds = lease_seconds if lease_seconds is not None else ctx.settings.run_lease_seconds
        self.poll_seconds = poll_seconds
        self.owner = f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._tasks: dict[int, asyncio.Task[None]] = {}  # item pk -> its task
        self._task_runs: dict[int, str] = {}  # item pk -> its run id
        self._batch_runs: set[str] = set()  # runs with a judge in batch mode (their items wait without a slot)
        self.batch_item_limit = ctx.settings.run_batch_item_limit
        self._recording: set[int] = set()  # items whose verdict is being written (their lease handed back)
        self._prepared: dict[str, Any] = {}  # run id -> (rubric, judges, spec, rewriter) or an error message
        self._loading: dict[str, asyncio.Future[Any]] = {}  # run id -> its load in progress
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._heartbeat_task: asyncio.Task[None] | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self, run_id: str | None = None) -> None:
        """Make sure this process is taking work; a new run is picked up at once."""
        if self._loop_task is None or self._loop_task.done():
            loop = asyncio.get_running_loop()
            self._loop_task = loop.create_task(self._claim_loop(), name="runs-claim")
            self._heartbeat_task = loop.create_task(self._heartbeat(), name="runs-heartbeat")
        self._wake.set()

    async def resume_all(self) -> None:
        self.start()

    async def stop(self) -> None:
        here = asyncio.get_running_loop()
        # The runs' loads in progress too: an item task waits for its run's load through a shield,
        # so cancelling the item leaves the load itself running past the stop.
        tasks: list[asyncio.Future[Any]] = [t for t in (self._loop_task, self._heartbeat_task, *self._tasks.values(),
                                                        *self._loading.values()) if t is not None]
        for task in tasks:
            if task.get_loop() is here:
                task.cancel()
            else:  # an app whose lifespan was entered again from another event loop (in-process clients)
                task.get_loop().call_soon_threadsafe(task.cancel)
        mine = [t for t in tasks if t.get_loop() is here]
        if mine:
            # Bounded: a task stuck in a database call must not hold the process's shutdown forever;
            # its item's lease is handed back below or expires.
            done, stuck = await asyncio.wait(mine, timeout=self.STOP_WAIT_SECONDS)
            for task in done:
                if not task.cancelled():
                    task.exception()  # retrieved, so it is not reported again when the task is collected
            for task in stuck:
                log.warning("run task %s did not stop within %.0fs; leaving it", getattr(task, "get_name", lambda: "?")(),
                            self.STOP_WAIT_SECONDS)
        self._loading.clear()
        try:
            await self.ctx.db.run(lambda s: leases.release(s, self.owner))
        except Exception:  # the database may be gone; the leases then simply expire
            log.warning("could not hand back run leases; they expire in %.0fs", self.lease_seconds)

    async def cancel(self, run_id: str) -> bool:
        """Stop a queued or running run: no item is claimed again, this process stops judging it, and
        its provider batches are cancelled. False when the run had already ended."""
        def mark(s: Any) -> bool:
            done = s.execute(update(RunRow).where(RunRow.id == run_id, RunRow.status.in_(("queued", "running")))
                             .values(status="cancelled", error="cancelled by request", finished_at=_now()))
            return bool(done.rowcount)

        cancelled = await self.ctx.db.run(mark)
        for pk, task in list(self._tasks.items()):
            if self._task_runs.get(pk) == run_id:
                task.cancel()
        if self.ctx.caller.batches is not None:
            await self.ctx.caller.batches.cancel_lane(run_id)
        pks = [pk for pk, run in self._task_runs.items() if run == run_id]
        if pks:
            await self.ctx.db.run(lambda s: leases.release(s, self.owner, pks))
        return cancelled

    # -- claiming --------------------------------------------------------------------------------
    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            # Items claimed while the renewal runs are not in its answer, nor items being recorded.
            renewing = set(self._tasks) - self._recording
            try:
                held = await self.ctx.db.heartbeat(
                    lambda s: leases.renew(s, self.owner, _now() + timedelta(seconds=self.lease_seconds)))
            except Exception:
                log.exception("lease heartbeat failed")
                continue
            # A renewal that came too late (a stalled host) finds some leases taken over: stop
            # judging those items now rather than pay for calls another process is making too.
            for pk, task in list(self._tasks.items()):
                if pk in renewing and pk not in held and pk not in self._recording:
                    log.warning("lost the lease on run item %s before finishing it; another process judges it", pk)
                    task.cancel()

    def _claim(self, s: Any, limit: int, busy: frozenset[int]) -> list[tuple[int, str, dict[str, Any]]]:
        now = _now()
        dead = _dead_local_owners(leases.owners(s), self.owner)
        pks = leases.claim(s, self.owner, now, now + timedelta(seconds=self.lease_seconds), limit, dead, busy)
        if not pks:
            # Two processes recording a run's last items at once each see the other's as pending
            # (read committed); whoever next finds nothing to claim closes such a run.
            pending = select(RunItemRow.pk).where(RunItemRow.run_id == RunRow.id, RunItemRow.status == "pending")
            s.execute(update(RunRow).where(RunRow.status.in_(("queued", "running")), ~pending.exists())
                      .values(status="done", finished_at=now))
            return []
        rows = s.execute(select(RunItemRow.pk, RunItemRow.run_id, RunItemRow.item).where(RunItemRow.pk.in_(pks)))
        return [(pk, run_id, dict(item)) for pk, run_id, item in rows]

    def _free_slots(self) -> int:
        batch_busy = sum(1 for run in self._task_runs.values() if run in self._batch_runs)
        return min(self.item_concurrency - (len(self._tasks) - batch_busy), self.batch_item_limit - batch_busy)

    async def _claim_loop(self) -> None:
        while True:
            free = self._free_slots()
            claimed: list[tuple[int, str, dict[str, Any]]] = []
            if free > 0:
                try:
                    busy = frozenset(self._tasks)  # read here, on the loop, not in the database thread
                    claimed = await self.ctx.db.run(lambda s: self._claim(s, free, busy))
                except Exception:
                    log.exception("claiming run items failed; retrying")
            for pk, run_id, item in claimed:
                if pk in self._tasks:  # defensive: never two tasks for one item in this process
                    continue
                self._task_runs[pk] = run_id
                self._tasks[pk] = asyncio.get_running_loop().create_task(self._one(pk, run_id, item), name=f"item-{pk}")
            if claimed and len(claimed) == free:
                continue
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
            except asyncio.TimeoutError:
                pass

    async def _prepare(self, run_id: str) -> Any:
        """A run's rubric, judges and spec, loaded once per process however many items ask at once."""
        if run_id in self._prepared:
            return self._prepared[run_id]
        loading = self._loading.get(run_id)
        if loading is None or loading.get_loop() is not asyncio.get_running_loop():
            loading = self._loading[run_id] = asyncio.ensure_future(self._load(run_id))
        try:
            prepared = await asyncio.shield(loading)
        finally:
            if loading.done():  # a failed load (the database was away) is tried again by the next item
                self._loading.pop(run_id, None)
        self._prepared[run_id] = prepared
        return prepared

    async def _load(self, run_id: str) -> Any:
        ctx = self.ctx

        def load(s: Any) -> dict[str, Any]:
            run = s.get(RunRow, run_id)
            if run.status == "queued":
                run.status = "running"
            else:  # started before (by this process's predecessor or another replica): this process takes part
                log.info("resuming run %s", run_id)
            return dict(run.spec)

        spec = await ctx.db.run(load)
        try:
            ref = recorded_ref(spec["rubric"])
            rubric = await ctx.db.run(lambda _s: ctx.rubrics.resolve(ref))
            if rubric.hash != spec["rubric"]["hash"]:
                raise RuntimeError(f"rubric {rubric.ref} changed since the run was created")
            judged_by: Rubric | list[Rubric] = rubric
            if spec.get("variants"):
                judged_by = [ctx.rubrics.variant(rubric, v["variant"]) for v in spec["variants"]]
                changed = [w.ref for w, v in zip(judged_by, spec["variants"]) if w.hash != v["hash"]]
                if changed:
                    raise RuntimeError(f"rubric variant(s) {changed} changed since the run was created")
            judges = await ctx.judges.get_many(spec["judges"])
            execution = spec.get("execution") or {}
            # The run's own copies of its batch-mode judges: their calls go to the run's batch lane.
            judges = [dataclasses.replace(j, batch_lane=run_id) if execution.get(j.name) == "batch" else j for j in judges]
            if any(j.batch_lane is not None for j in judges):
                self._batch_runs.add(run_id)
            probes = spec.get("length_probes")
            rewriter = (await ctx.judges.get_many([probes["rewriter"]]))[0] if probes else None
            return (judged_by, judges, spec, rewriter)
        except Exception as e:  # the run cannot proceed at all; say why on the run
            return getattr(e, "message", str(e))

    async def _one(self, pk: int, run_id: str, item: dict[str, Any]) -> None:
        try:
            prepared = await self._prepare(run_id)
            if isinstance(prepared, str):
                await self.ctx.db.run(lambda s: self._finish_run(s, run_id, "failed", prepared))
                return
            rubric, judges, spec, rewriter = prepared
            try:
                result: dict[str, Any] | None = await evaluate_item(self.ctx.caller, rubric, judges, item, spec,
                                                                    rewriter)
                status, error = "done", None
            except asyncio.CancelledError:
                raise
            except Exception as e:  # one item's failure is recorded on the item, the run goes on
                log.exception("run %s item %s failed", run_id, item.get("id"))
                result, status, error = None, "failed", item_error(e)
            self._recording.add(pk)
            await self.ctx.db.run(lambda s: self._record(s, pk, run_id, result, status, error))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("run %s item pk %s could not be recorded; its lease will expire", run_id, pk)
        finally:
            self._tasks.pop(pk, None)
            self._task_runs.pop(pk, None)
            self._recording.discard(pk)
            self._wake.set()

    def _record(self, s: Any, pk: int, run_id: str, result: dict[str, Any] | None, status: str,
                error: str | None) -> None:
        if not leases.holds(s, self.owner, pk):
            log.warning("lost the lease on run item %s; another process judges it", pk)
            return
        s.execute(update(RunItemRow).where(RunItemRow.pk == pk, RunItemRow.status == "pending")
                  .values(result=result, status=status, error=error))
        leases.release(s, self.owner, [pk])
        left = s.scalar(select(func.count()).select_from(RunItemRow)
                        .where(RunItemRow.run_id == run_id, RunItemRow.status == "pending"))
        if left == 0:
            self._finish_run(s, run_id, "done", None)

    @staticmethod
    def _finish_run(s: Any, run_id: str, status: str, error: str | None) -> None:
        s.execute(update(RunRow).where(RunRow.id == run_id, RunRow.status.in_(("queued", "running")))
                  .values(status=status, error=error, finished_at=_now()))
