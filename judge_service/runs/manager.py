"""Background execution of runs inside the service, resumable after a restart.

Each item's verdict is committed as soon as it is complete, and every judge call is cached the
moment it succeeds, so a restarted service skips finished items and replays finished calls from
the cache. Only calls in flight at the moment of a crash are made again (at most the judges'
concurrency limits): a provider offers no idempotency key that would let us recover those.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone

from judge_service.context import AppContext
from judge_service.runs.evaluate import evaluate_item
from judge_service.store.models import RunItemRow, RunRow

log = logging.getLogger("judge_service.runs")


class RunManager:
    def __init__(self, ctx: AppContext, item_concurrency: int = 16) -> None:
        self.ctx = ctx
        self.item_concurrency = item_concurrency
        self._tasks: dict[str, asyncio.Task] = {}

    def start(self, run_id: str) -> None:
        if run_id in self._tasks and not self._tasks[run_id].done():
            return
        self._tasks[run_id] = asyncio.get_running_loop().create_task(self._execute(run_id), name=f"run-{run_id}")

    async def resume_all(self) -> None:
        with self.ctx.db.session() as s:
            ids = [r.id for r in s.query(RunRow).filter(RunRow.status.in_(("queued", "running")))]
        for run_id in ids:
            log.info("resuming run %s", run_id)
            self.start(run_id)

    async def stop(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    def _set_status(self, run_id: str, status: str, error: str | None = None) -> None:
        with self.ctx.db.session() as s:
            run = s.get(RunRow, run_id)
            run.status = status
            run.error = error
            if status in ("done", "failed"):
                run.finished_at = datetime.now(timezone.utc)

    async def _execute(self, run_id: str) -> None:
        ctx = self.ctx
        with ctx.db.session() as s:
            run = s.get(RunRow, run_id)
            spec = dict(run.spec)
            pending = [(r.pk, r.item) for r in s.query(RunItemRow).filter_by(run_id=run_id, status="pending").order_by(RunItemRow.position)]
        try:
            rubric = ctx.rubrics.resolve(f"{spec['rubric']['name']}@{spec['rubric']['version']}")
            if rubric.hash != spec["rubric"]["hash"]:
                raise RuntimeError(f"rubric {rubric.ref} changed since the run was created")
            judges = [ctx.judges.get(n) for n in spec["judges"]]
        except Exception as e:  # the run cannot proceed at all; say why on the run
            self._set_status(run_id, "failed", getattr(e, "message", str(e)))
            return
        self._set_status(run_id, "running")
        gate = asyncio.Semaphore(self.item_concurrency)

        async def one(pk: int, item: dict) -> None:
            async with gate:
                try:
                    result = await evaluate_item(ctx.caller, rubric, judges, item, spec)
                    status, error = "done", None
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # one item's failure is recorded on the item, the run goes on
                    log.exception("run %s item %s failed", run_id, item["id"])
                    result, status, error = None, "failed", getattr(e, "message", str(e))
                with ctx.db.session() as s:
                    row = s.get(RunItemRow, pk)
                    row.result, row.status, row.error = result, status, error

        await asyncio.gather(*(one(pk, item) for pk, item in pending))
        self._set_status(run_id, "done")
