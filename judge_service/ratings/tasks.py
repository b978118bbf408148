"""Calibrations run in the background of the app, resumed after a restart (calls are cached)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from judge_service.ratings.calibration import execute
from judge_service.store.models import CalibrationRow
from judge_service.tasks import BackgroundTasks

if TYPE_CHECKING:
    from judge_service.context import AppContext


class Calibrations:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self._tasks = BackgroundTasks()

    def start(self, cal_id: str) -> None:
        self._tasks.spawn(cal_id, execute(self.ctx, cal_id))

    async def resume_all(self) -> None:
        ids = await self.ctx.db.run(lambda s: [r.id for r in s.query(CalibrationRow).filter_by(status="running")])
        for cal_id in ids:
            self.start(cal_id)

    async def stop(self) -> None:
        await self._tasks.stop()
