"""What one running app holds: settings, database, rubric registry, judge pool, judge caller."""

from __future__ import annotations

from dataclasses import dataclass, field

from judge_service.engine.call import JudgeCaller
from judge_service.judges.config import load_judges_config
from judge_service.judges.registry import JudgePool
from judge_service.rubrics.registry import RubricRegistry
from judge_service.settings import Settings
from judge_service.store.db import Database


@dataclass
class AppContext:
    settings: Settings
    db: Database
    rubrics: RubricRegistry
    judges: JudgePool
    caller: JudgeCaller
    extras: dict = field(default_factory=dict)  # per-feature state (run workers, metric caches)

    @classmethod
    def build(cls, settings: Settings) -> AppContext:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        db = Database(settings.resolved_database_url())
        config = load_judges_config(settings.config)
        return cls(
            settings=settings,
            db=db,
            rubrics=RubricRegistry(settings.rubrics_dirs, db),
            judges=JudgePool(config, settings),
            caller=JudgeCaller(db, parse_retries=settings.parse_retries),
        )

    async def warm_judges(self) -> None:
        """Load local models of the default panel in the background; failures show in /v1/judges."""
        import asyncio
        import logging

        async def warm(name: str) -> None:
            provider = self.judges.get(name).provider
            inner = getattr(provider, "inner", provider)
            if hasattr(inner, "warm"):
                try:
                    await inner.warm()
                    logging.getLogger("judge_service").info("judge %s loaded", name)
                except Exception as e:  # reported by health(); the service stays up
                    logging.getLogger("judge_service").warning("judge %s failed to load: %s", name, e)

        for name in self.judges.default_panel():
            self.extras.setdefault("background", []).append(asyncio.create_task(warm(name)))

    async def aclose(self) -> None:
        await self.judges.aclose()
        self.db.close()
