"""What a running app holds (by type), and the contract's shape: a response schema on every route."""

from __future__ import annotations

import dataclasses

from judge_service.context import AppContext
from judge_service.engine.call import JudgeCaller
from judge_service.engine.verdicts import Verdicts
from judge_service.judges.registry import JudgePool
from judge_service.judges.replicas import ReplicaShare
from judge_service.memorization.store import IndexStore
from judge_service.observability import Metrics
from judge_service.ratings.tasks import Calibrations
from judge_service.rubrics.registry import RubricRegistry
from judge_service.runs.manager import RunManager
from judge_service.runs.report_cache import ReportCache
from judge_service.settings import Settings
from judge_service.store.db import Database
from judge_service.tasks import BackgroundTasks


def test_the_started_app_context_lists_what_it_holds_by_type(client):
    ctx = client.app.state.ctx  # the fixture's client is started (lifespan entered)
    assert isinstance(ctx, AppContext)
    held = {f.name: type(getattr(ctx, f.name)) for f in dataclasses.fields(ctx)}
    assert held == {
        "settings": Settings, "db": Database, "rubrics": RubricRegistry, "judges": JudgePool, "caller": JudgeCaller,
        "verdicts": Verdicts, "runs": RunManager, "replicas": ReplicaShare, "calibrations": Calibrations,
        "background": BackgroundTasks,
        "metrics": Metrics, "overlap_indexes": IndexStore, "reports": ReportCache,
    }
    # One verdict service, sharing the app's own objects (nothing rebuilt per feature).
    assert ctx.verdicts.db is ctx.db and ctx.verdicts.caller is ctx.caller and ctx.verdicts.judges is ctx.judges
    assert not hasattr(ctx, "extras")


def test_every_route_documents_its_success_response(client):
    paths = client.get("/openapi.json").json()["paths"]
    missing = []
    for path, operations in paths.items():
        for method, op in operations.items():
            ok = {code: r for code, r in op["responses"].items() if code.startswith("2")}
            content = [c for r in ok.values() for c in (r.get("content") or {}).values()]
            if not content or any(not c.get("schema") or c["schema"] == {} for c in content):
                missing.append(f"{method.upper()} {path}")
    assert missing == []
