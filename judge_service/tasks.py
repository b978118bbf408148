"""Background tasks the app owns (judge warm-up, calibrations): started by name, cancelled at stop."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


class BackgroundTasks:
    """A named set of asyncio tasks, so that shutdown can cancel and await every one of them."""

    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def spawn(self, name: str, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Start ``work`` unless a task of that name is still running (then ``work`` is dropped)."""
        running = self._tasks.get(name)
        if running is not None and not running.done():
            work.close()
            return running
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._tasks[name] = task
        return task

    def names(self) -> list[str]:
        return sorted(self._tasks)

    async def stop(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self._tasks.clear()
