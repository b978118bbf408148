"""Runs: POST /v1/runs (JSON) and /v1/runs/upload (JSONL/CSV), status, items, report."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, File, Form, UploadFile
from pydantic import BaseModel, ValidationError

from judge_service.api.deps import check_samples, get_ctx, resolve_judges
from judge_service.api.verdicts import new_id, rubric_ref
from judge_service.context import AppContext
from judge_service.errors import InvalidInput, NotFound
from judge_service.ratings.calibration import usable_calibration
from judge_service.runs.cost import RunCost, run_cost
from judge_service.runs.manager import RunManager
from judge_service.runs.spec import RunCreate, RunItem, RunSpec, validate_items
from judge_service.runs.upload import parse_items
from judge_service.schemas import ErrorBody
from judge_service.store.models import CalibrationRow, RunItemRow, RunRow
from judge_service.runs.report_schema import RunReportOut

router = APIRouter(prefix="/v1/runs", tags=["runs"])
ERRORS = {s: {"model": ErrorBody} for s in (404, 409, 413, 422)}


class Progress(BaseModel):
    done: int
    failed: int
    pending: int
    total: int


class RunStatus(BaseModel):
    id: str
    status: str
    progress: Progress
    rubric: dict
    judges: list[str]
    mode: str
    baseline: str
    candidate: str
    error: str | None
    created_at: str
    finished_at: str | None
    cost: RunCost


def install(ctx: AppContext) -> None:
    manager = RunManager(ctx, item_concurrency=ctx.settings.run_item_concurrency)
    ctx.extras["runs"] = manager
    ctx.extras.setdefault("on_startup", []).append(lambda c: manager.resume_all())
    ctx.extras.setdefault("on_shutdown", []).append(lambda c: manager.stop())


def _create(ctx: AppContext, spec: RunSpec, items: list[RunItem]) -> dict:
    validate_items(spec, items, max_items=ctx.settings.max_run_items, max_text_chars=ctx.settings.max_text_chars)
    check_samples(ctx, spec.samples)
    mode = "pairwise" if spec.mode == "pairwise" else "absolute"
    rubric = ctx.rubrics.resolve(spec.rubric, mode=mode)
    if spec.mode == "both" and "pairwise" not in rubric.modes:
        raise InvalidInput(f"rubric {rubric.ref} does not support pairwise mode", field="rubric")
    if rubric.requires_reference:
        missing = [i.id for i in items if not i.reference]
        if missing:
            raise InvalidInput(f"rubric {rubric.ref} is reference-guided; items without a reference: {missing[:5]}",
                               field="items.reference")
    judges = resolve_judges(ctx, spec.judges)
    if spec.options.calibration is not None:
        if spec.mode == "pairwise":
            raise InvalidInput("a score calibration applies to absolute scores; use mode 'absolute' or 'both'",
                               field="options.calibration")
        usable_calibration(ctx, spec.options.calibration, rubric, [j.name for j in judges], field="options.calibration")
    ctx.rubrics.mark_used(rubric)
    run_id = new_id("run")
    stored_spec = spec.model_dump(mode="json") | {
        "run_id": run_id, "rubric": rubric_ref(rubric), "judges": [j.name for j in judges],
        "judge_families": {j.name: j.spec.family for j in judges},
    }
    with ctx.db.session() as s:
        s.add(RunRow(id=run_id, status="queued", spec=stored_spec, total=len(items)))
        s.flush()
        for pos, item in enumerate(items):
            data = item.model_dump(mode="json") | {"conversation": item.conversation()}
            s.add(RunItemRow(run_id=run_id, item_id=item.id, position=pos, item=data))
    ctx.extras["runs"].start(run_id)
    return {"id": run_id, "status": "queued"}


@router.post("", status_code=202, responses=ERRORS)
async def create_run(body: RunCreate, ctx: AppContext = Depends(get_ctx)) -> dict:
    spec = RunSpec.model_validate(body.model_dump(exclude={"items"}))
    return _create(ctx, spec, body.items)


@router.post("/upload", status_code=202, responses=ERRORS)
async def upload_run(file: UploadFile = File(..., description="JSONL (one item per line) or CSV"),
                     spec: str = Form(..., description="the run's JSON body without 'items'"),
                     ctx: AppContext = Depends(get_ctx)) -> dict:
    try:
        parsed = RunSpec.model_validate_json(spec)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or None
        raise InvalidInput(f"spec: {loc}: {err['msg']}", field=f"spec.{loc}" if loc else "spec") from None
    data = await file.read()
    if len(data) > ctx.settings.max_body_bytes:
        raise InvalidInput("uploaded file is too large", field="file")
    return _create(ctx, parsed, parse_items(data, file.filename or "items.jsonl", parsed))


def calibrated_scores(ctx: AppContext, results: list[dict | None], opts: dict, seed: str) -> dict | None:
    """Absolute panel scores mapped to the human scale of the run's calibration, and their paired difference."""
    cal_id = opts.get("calibration")
    if cal_id is None:
        return None
    from judge_service.stats.calibrate import apply_mapping
    from judge_service.stats.inference import paired_difference

    with ctx.db.session() as s:
        mapping = s.get(CalibrationRow, cal_id).mapping
    pairs = [((r or {}).get("absolute") or {}) for r in results]
    pairs = [(p["candidate"]["score"], p["baseline"]["score"]) for p in pairs
             if p and p["candidate"]["score"] is not None and p["baseline"]["score"] is not None]
    out: dict = {"calibration_id": cal_id, "n": len(pairs)}
    if len(pairs) < 2:
        return out | {"reason": "needs at least two items with both systems scored"}
    cand = apply_mapping(mapping, [c for c, _ in pairs])
    base = apply_mapping(mapping, [b for _, b in pairs])
    diff = paired_difference(cand, base, confidence=opts.get("confidence", 0.95), n_resamples=opts.get("n_resamples", 2000),
                             seed=f"{seed}/calibrated")
    return out | {"candidate_mean": float(cand.mean()), "baseline_mean": float(base.mean()), "difference": diff.to_dict()}


def _run(ctx: AppContext, run_id: str) -> RunRow:
    with ctx.db.session() as s:
        run = s.get(RunRow, run_id)
    if run is None:
        raise NotFound(f"no run with id '{run_id}'", field="id")
    return run


def _progress(ctx: AppContext, run_id: str, total: int) -> dict:
    from sqlalchemy import func

    with ctx.db.session() as s:
        counts = dict(s.query(RunItemRow.status, func.count()).filter_by(run_id=run_id).group_by(RunItemRow.status).all())
    return {"done": counts.get("done", 0), "failed": counts.get("failed", 0), "pending": counts.get("pending", 0), "total": total}


@router.get("/{id}", response_model=RunStatus, responses=ERRORS)
async def get_run(id: str, ctx: AppContext = Depends(get_ctx)) -> dict:
    run = _run(ctx, id)
    return {
        "id": run.id, "status": run.status, "progress": _progress(ctx, run.id, run.total), "rubric": run.spec["rubric"],
        "judges": run.spec["judges"], "mode": run.spec["mode"], "baseline": run.spec["baseline"],
        "candidate": run.spec["candidate"], "error": run.error, "created_at": run.created_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "cost": run_cost(ctx.db, run.id),
    }


def _items(ctx: AppContext, run_id: str) -> list[RunItemRow]:
    with ctx.db.session() as s:
        return list(s.query(RunItemRow).filter_by(run_id=run_id).order_by(RunItemRow.position))


@router.get("/{id}/items", responses=ERRORS)
async def get_run_items(id: str, ctx: AppContext = Depends(get_ctx)) -> list[dict]:
    _run(ctx, id)
    return [{"id": r.item_id, "status": r.status, "error": r.error, "result": r.result} for r in _items(ctx, id)]


@router.get("/{id}/report", response_model=RunReportOut, responses=ERRORS)
async def get_run_report(id: str, ctx: AppContext = Depends(get_ctx)) -> dict:
    run = _run(ctx, id)
    from judge_service.runs.ppi_report import ppi_win_rate
    from judge_service.runs.records import to_records
    from judge_service.runs.report import ReportOptions, build_report

    rows = _items(ctx, id)
    spec = run.spec
    pairwise, absolute, infos = to_records([r.item for r in rows], [r.result for r in rows], spec)
    opts = spec.get("options", {})
    families = opts.get("system_families", {})
    report = build_report(pairwise, absolute, infos, ReportOptions(
        confidence=opts.get("confidence", 0.95), n_resamples=opts.get("n_resamples", 2000), seed=run.id,
        style_control=opts.get("style_control", False), judge_families=spec.get("judge_families", {}),
        system_families={role: families[name] for role, name in (("candidate", spec["candidate"]), ("baseline", spec["baseline"])) if name in families},
        exclude_self_preferring=opts.get("exclude_self_preferring", False),
        target_difference=opts.get("target_difference"),
    ))
    progress = _progress(ctx, run.id, run.total)
    calibrated = calibrated_scores(ctx, [r.result for r in rows], opts, run.id)
    ppi = ppi_win_rate([r.item for r in rows], [r.result for r in rows], spec, opts.get("confidence", 0.95))
    return {"ppi": ppi, "calibrated": calibrated} | {"run_id": run.id, "status": run.status, "complete": progress["pending"] == 0, "progress": progress,
            "rubric": spec["rubric"], "judges": spec["judges"], "baseline": spec["baseline"],
            "candidate": spec["candidate"], "mode": spec["mode"],
            "cost": run_cost(ctx.db, run.id).model_dump()} | report.to_dict()
