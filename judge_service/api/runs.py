"""Runs: POST /v1/runs (JSON) and /v1/runs/upload (JSONL/CSV), status, items, report.

Thin: a run is prepared like every verdict (``engine/verdicts.py``), executed by the app's
``RunManager`` (``ctx.runs``), and its report assembled by ``runs/``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, File, Form, UploadFile
from pydantic import BaseModel, ValidationError
from sqlalchemy import func
from sqlalchemy.orm import Session

from judge_service.api.deps import get_ctx
from judge_service.context import AppContext
from judge_service.engine.verdicts import Prepared, new_id, rubric_ref
from judge_service.errors import InvalidInput, NotFound
from judge_service.runs.calibrated import calibrated_scores
from judge_service.runs.cost import RunCost, run_cost
from judge_service.runs.records import ItemResult, to_records
from judge_service.runs.report_schema import RunReportOut
from judge_service.runs.spec import RunCreate, RunItem, RunSpec, validate_items
from judge_service.runs.upload import parse_items
from judge_service.schemas import ErrorBody, EvalSetRef, RubricRef
from judge_service.store.models import RunItemRow, RunRow

router = APIRouter(prefix="/v1/runs", tags=["runs"])
ERRORS: dict[int | str, dict[str, Any]] = {s: {"model": ErrorBody} for s in (404, 409, 413, 422)}


class RunAccepted(BaseModel):
    id: str
    status: str


class Progress(BaseModel):
    done: int
    failed: int
    pending: int
    total: int


class RunStatus(BaseModel):
    id: str
    status: str
    progress: Progress
    rubric: RubricRef
    judges: list[str]
    mode: str
    baseline: str
    candidate: str
    error: str | None
    created_at: str
    finished_at: str | None
    cost: RunCost
    eval_set: EvalSetRef | None = None


class RunItemOut(BaseModel):
    id: str
    status: str
    error: str | None
    result: ItemResult | None


async def _create(ctx: AppContext, spec: RunSpec, items: list[RunItem]) -> RunAccepted:
    validate_items(spec, items, max_items=ctx.settings.max_run_items, max_text_chars=ctx.settings.max_text_chars)
    if spec.eval_set is not None:
        await ctx.db.run(lambda s: _check_eval_set(s, spec, items))

    async def check_calibration(prepared: Prepared) -> None:
        if spec.options.calibration is None:
            return
        if spec.mode == "pairwise":
            raise InvalidInput("a score calibration applies to absolute scores; use mode 'absolute' or 'both'",
                               field="options.calibration")
        await ctx.verdicts.usable_calibration(spec.options.calibration, prepared.rubric, prepared.judge_names,
                                              field="options.calibration")

    prepared = await ctx.verdicts.prepare(
        spec.rubric, mode="pairwise" if spec.mode == "pairwise" else "absolute", judges=spec.judges,
        samples=spec.samples, also_modes=("pairwise",) if spec.mode == "both" else (),
        missing_reference=[i.id for i in items if not i.reference], reference_field="items.reference",
        check=check_calibration)
    run_id = new_id("run")
    stored_spec = spec.model_dump(mode="json") | {
        "run_id": run_id, "rubric": rubric_ref(prepared.rubric), "judges": prepared.judge_names,
        "judge_families": {j.name: j.spec.family for j in prepared.judges},
    }

    def store(s: Session) -> None:
        s.add(RunRow(id=run_id, status="queued", spec=stored_spec, total=len(items)))
        s.flush()
        for pos, item in enumerate(items):
            data = item.model_dump(mode="json") | {"conversation": item.conversation()}
            s.add(RunItemRow(run_id=run_id, item_id=item.id, position=pos, item=data))

    await ctx.db.run(store)
    ctx.runs.start(run_id)
    return RunAccepted(id=run_id, status="queued")


@router.post("", status_code=202, response_model=RunAccepted, responses=ERRORS)
async def create_run(body: RunCreate, ctx: AppContext = Depends(get_ctx)) -> RunAccepted:
    spec = RunSpec.model_validate(body.model_dump(exclude={"items"}))
    return await _create(ctx, spec, body.items)


@router.post("/upload", status_code=202, response_model=RunAccepted, responses=ERRORS)
async def upload_run(file: UploadFile = File(..., description="JSONL (one item per line) or CSV"),
                     spec: str = Form(..., description="the run's JSON body without 'items'"),
                     ctx: AppContext = Depends(get_ctx)) -> RunAccepted:
    try:
        parsed = RunSpec.model_validate_json(spec)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or None
        raise InvalidInput(f"spec: {loc}: {err['msg']}", field=f"spec.{loc}" if loc else "spec") from None
    data = await file.read()
    if len(data) > ctx.settings.max_body_bytes:
        raise InvalidInput("uploaded file is too large", field="file")
    return await _create(ctx, parsed, parse_items(data, file.filename or "items.jsonl", parsed))


def _check_eval_set(s: Session, spec: RunSpec, items: list[RunItem]) -> None:
    from judge_service.evalsets import store as evalset_store
    from judge_service.evalsets.content import run_items_problem

    ref = spec.eval_set
    assert ref is not None
    try:
        version = evalset_store.get(s, ref.name, ref.version)
    except NotFound as e:
        raise InvalidInput(str(e), field="eval_set") from None
    problem = run_items_problem(version.items, [i.model_dump(mode="json") for i in items])
    if problem is not None:
        pos, why = problem
        raise InvalidInput(f"{why} ('{ref.name}' v{ref.version}); save the items as a new version first",
                           field=f"items.{pos}.id")


def _read_run(s: Session, run_id: str) -> RunRow:
    run = s.get(RunRow, run_id)
    if run is None:
        raise NotFound(f"no run with id '{run_id}'", field="id")
    return run


def _read_progress(s: Session, run_id: str, total: int) -> Progress:
    counts = dict(s.query(RunItemRow.status, func.count()).filter_by(run_id=run_id).group_by(RunItemRow.status).all())
    return Progress(done=counts.get("done", 0), failed=counts.get("failed", 0), pending=counts.get("pending", 0),
                    total=total)


@router.get("/{id}", response_model=RunStatus, responses=ERRORS)
async def get_run(id: str, ctx: AppContext = Depends(get_ctx)) -> RunStatus:
    def read(s: Session) -> tuple[RunRow, Progress]:
        run = _read_run(s, id)
        return run, _read_progress(s, id, run.total)

    run, progress = await ctx.db.run(read)
    cost = await ctx.db.run(lambda _s: run_cost(ctx.db, id))
    spec = run.spec
    return RunStatus(
        id=run.id, status=run.status, progress=progress, rubric=RubricRef.model_validate(spec["rubric"]),
        judges=spec["judges"], mode=spec["mode"], baseline=spec["baseline"], candidate=spec["candidate"],
        error=run.error, created_at=run.created_at.isoformat(),
        finished_at=run.finished_at.isoformat() if run.finished_at else None, cost=cost,
        eval_set=EvalSetRef.model_validate(spec["eval_set"]) if spec.get("eval_set") else None,
    )


def _read_items(s: Session, run_id: str) -> list[RunItemRow]:
    return list(s.query(RunItemRow).filter_by(run_id=run_id).order_by(RunItemRow.position))


@router.get("/{id}/items", response_model=list[RunItemOut], responses=ERRORS)
async def get_run_items(id: str, ctx: AppContext = Depends(get_ctx)) -> list[RunItemOut]:
    def read(s: Session) -> list[RunItemRow]:
        _read_run(s, id)
        return _read_items(s, id)

    rows = await ctx.db.run(read)
    return [RunItemOut(id=r.item_id, status=r.status, error=r.error, result=ItemResult.read(r.result)) for r in rows]


@router.get("/{id}/report", response_model=RunReportOut, responses=ERRORS)
async def get_run_report(id: str, ctx: AppContext = Depends(get_ctx)) -> dict[str, Any]:
    def read(s: Session) -> tuple[RunRow, list[RunItemRow], Progress]:
        run = _read_run(s, id)
        return run, _read_items(s, id), _read_progress(s, id, run.total)

    run, rows, progress = await ctx.db.run(read)
    cost = await ctx.db.run(lambda _s: run_cost(ctx.db, id))
    mapping = None
    calibration = (run.spec.get("options") or {}).get("calibration")
    if calibration is not None:
        mapping = await ctx.db.run(lambda s: _calibration_mapping(s, calibration))
    # The report's bootstrap intervals take seconds on a big run: off the event loop.
    return await asyncio.to_thread(_report, run, rows, progress, cost, mapping)


def _calibration_mapping(s: Session, cal_id: str) -> dict[str, Any]:
    from judge_service.store.models import CalibrationRow

    row = s.get(CalibrationRow, cal_id)
    if row is None or row.mapping is None:  # checked usable when the run was created; kept since
        raise NotFound(f"calibration '{cal_id}' of this run is missing", field="options.calibration")
    mapping: dict[str, Any] = row.mapping
    return mapping


def _report(run: RunRow, rows: list[RunItemRow], progress: Progress, cost: RunCost,
            mapping: dict[str, Any] | None) -> dict[str, Any]:
    from judge_service.runs.ppi_report import ppi_win_rate
    from judge_service.runs.report import ReportOptions, build_report

    spec = run.spec
    results = [ItemResult.read(r.result) for r in rows]
    pairwise, absolute, infos = to_records([r.item for r in rows], results, spec["baseline"], spec["candidate"])
    opts = spec.get("options", {})
    families = opts.get("system_families", {})
    report = build_report(pairwise, absolute, infos, ReportOptions(
        confidence=opts.get("confidence", 0.95), n_resamples=opts.get("n_resamples", 2000), seed=run.id,
        style_control=opts.get("style_control", False), judge_families=spec.get("judge_families", {}),
        system_families={role: families[name] for role, name in (("candidate", spec["candidate"]),
                                                                 ("baseline", spec["baseline"])) if name in families},
        exclude_self_preferring=opts.get("exclude_self_preferring", False),
        target_difference=opts.get("target_difference"),
    ))
    calibrated = None if mapping is None else calibrated_scores(
        opts["calibration"], mapping, results, confidence=opts.get("confidence", 0.95),
        n_resamples=opts.get("n_resamples", 2000), seed=run.id)
    ppi = ppi_win_rate([r.item for r in rows], [r.result for r in rows], spec, opts.get("confidence", 0.95))
    return {"ppi": ppi, "calibrated": calibrated} | {
        "run_id": run.id, "status": run.status, "complete": progress.pending == 0, "progress": progress.model_dump(),
        "rubric": spec["rubric"], "judges": spec["judges"], "baseline": spec["baseline"],
        "candidate": spec["candidate"], "mode": spec["mode"], "cost": cost.model_dump()} | report.to_dict()
