"""What one running app holds, as named typed fields, and its one start/stop sequence.

    settings      Settings          the one configuration object
    db            Database          engine, sessions, the thread pool async code uses (db.run)
    rubrics       RubricRegistry    rubric files + versions added by API, hash-checked
    judges        JudgePool         judges built on first use, closed at stop
    caller        JudgeCaller       cache → provider → parse, every call recorded; its ``batches``
                                    (engine/batch.py) sends batch-mode calls through provider batch APIs
    verdicts      Verdicts          the life of a verdict: prepare → judge → calibrate → record
    runs          RunManager        background runs, resumed at start
    calibrations  Calibrations      background calibrations, resumed at start
    background    BackgroundTasks   anything else started in the background (judge warm-up)
    metrics       Metrics | None    the Prometheus registry, once observability is installed
    overlap_indexes IndexStore      training-set n-gram indexes (files under the data dir), loaded once each

``start`` and ``stop`` are the whole lifecycle; ``create_app``'s lifespan calls them and nothing
else starts or stops app state.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from judge_service.engine.call import JudgeCaller
from judge_service.engine.verdicts import Verdicts
from judge_service.judges.config import load_judges_config
from judge_service.judges.registry import JudgePool
from judge_service.rubrics.registry import RubricRegistry
from judge_service.settings import Settings
from judge_service.store.db import Database
from judge_service.runs.report_cache import ReportCache
from judge_service.tasks import BackgroundTasks

if TYPE_CHECKING:  # these modules hold the context themselves
    from judge_service.engine.batch import BatchExecutor
    from judge_service.judges.registry import Judge
    from judge_service.judges.replicas import ReplicaShare
    from judge_service.memorization.store import IndexStore
    from judge_service.observability import Metrics
    from judge_service.ratings.tasks import Calibrations
    from judge_service.runs.manager import RunManager

log = logging.getLogger("judge_service")


@dataclass
class AppContext:
    settings: Settings
    db: Database
    rubrics: RubricRegistry
    judges: JudgePool
    caller: JudgeCaller
    verdicts: Verdicts
    runs: RunManager = field(init=False)
    replicas: ReplicaShare = field(init=False)
    calibrations: Calibrations = field(init=False)
    overlap_indexes: IndexStore = field(init=False)
    background: BackgroundTasks = field(default_factory=BackgroundTasks)
    metrics: Metrics | None = None
    reports: ReportCache = field(default_factory=ReportCache)

    @classmethod
    def build(cls, settings: Settings) -> AppContext:
        from judge_service.judges.replicas import ReplicaShare
        from judge_service.memorization.store import IndexStore
        from judge_service.ratings.tasks import Calibrations
        from judge_service.runs.manager import RunManager

        settings.data_dir.mkdir(parents=True, exist_ok=True)
        db = Database(settings.resolved_database_url())
        rubrics = RubricRegistry(settings.rubrics_dirs, db)
        judges = JudgePool(load_judges_config(settings.config), settings)
        caller = JudgeCaller(db, parse_retries=settings.parse_retries)
        caller.batches = _batch_executor(db, judges, settings)
        ctx = cls(settings=settings, db=db, rubrics=rubrics, judges=judges, caller=caller,
                  verdicts=Verdicts(settings, db, rubrics, judges, caller))
        ctx.runs = RunManager(ctx, item_concurrency=settings.run_item_concurrency)
        ctx.replicas = ReplicaShare(db, ctx.runs.owner, judges.set_replicas, settings.replica_beat_seconds)
        ctx.calibrations = Calibrations(ctx)
        ctx.overlap_indexes = IndexStore(db, settings.data_dir / "overlap-indexes")
        return ctx

    async def start(self) -> None:
        """Resume what a previous process left running, then warm the default panel if asked."""
        await self.replicas.start()  # before any judge call: this process's share of the judges' limits
        await self.runs.resume_all()
        if self.caller.batches is not None:
            self.caller.batches.start()  # poll the batches a previous process left pending
        await self.calibrations.resume_all()
        if self.settings.warm_judges:
            for name in self.judges.default_panel():
                self.background.spawn(f"warm-{name}", _warm(self.judges, name))

    async def stop(self) -> None:
        """Cancel background work (its progress is stored), then close judges and the database."""
        await self.background.stop()
        await self.runs.stop()
        if self.caller.batches is not None:
            await self.caller.batches.stop()
        await self.calibrations.stop()
        if self.metrics is not None:
            self.metrics.close()
        await self.replicas.stop()  # its share goes back to the other replicas at their next beat
        await self.judges.aclose()
        # Connections are released; the database's thread pool is kept, because one context may be
        # started again (a test client entered twice, schemathesis' per-case lifespan) and a shut
        # pool cannot take work. Its idle threads end with the process.
        self.db.engine.dispose()


def _batch_executor(db: Database, judges: JudgePool, settings: Settings) -> BatchExecutor:
    from judge_service.engine.batch import BatchExecutor
    from judge_service.engine.call import cache_values

    async def judge_for(name: str) -> Judge:
        return (await judges.get_many([name]))[0]

    return BatchExecutor(db, judge_for, cache_values, collect_seconds=settings.batch_collect_seconds,
                         poll_seconds=settings.batch_poll_seconds, direct_below=settings.batch_direct_below)


async def _warm(judges: JudgePool, name: str) -> None:
    """Build and load a judge now; a failure is logged and shows in /v1/judges, the service stays up."""
    try:
        await judges.get(name).warm()
        log.info("judge %s loaded", name)
    except Exception as e:  # reported by health()
        log.warning("judge %s failed to load: %s", name, e)
