"""Every table the service stores, in one ``MetaData``: what the migrations are checked against.

The tables are declared beside the code that owns them (a layer's ``store.py``); this module is
the one list of those homes. A new table is a model in its layer, a line here, and a migration
(``store/migrations/versions``); ``tests/test_migrations.py`` fails until all three agree.
"""

from __future__ import annotations

import importlib

from sqlalchemy import MetaData

from judge_service.store.models import Base

MODEL_MODULES = (
    "judge_service.store.models",
    "judge_service.store.leases",
    "judge_service.judges.replicas",
    "judge_service.security.models",
    "judge_service.benchmarks.store",
    "judge_service.evalsets.store",
    "judge_service.evaluation.store",
    "judge_service.memorization.store",
    "judge_service.training.store",
    "judge_service.ui.rating",
)


def metadata() -> MetaData:
    # Imported on first use, not at the top: several of these modules import store.db, which
    # migrates through this module.
    for name in MODEL_MODULES:
        importlib.import_module(name)
    return Base.metadata
