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
from judge_service.errors import Conflict, InvalidInput, NotFound
from judge_service.judges.config import JudgeSpec
from judge_service.runs.calibrated import calibrated_scores
from judge_service.runs.compare import compare_runs
from judge_service.runs.cost import RunCost, run_cost
from judge_service.runs.records import ItemResult, to_probe_rows, to_records
from judge_service.runs.report.gate import HumanAgreement
from judge_service.runs.report_schema import RunReportOut
from judge_service.runs.spec import RunCreate, RunItem, RunSpec
from judge_service.runs.start import start_run
from judge_service.runs.upload import parse_items
from judge_service.schemas import ErrorBody, EvalSetRef, RubricRef
from judge_service.stats.estimate import Estimate
from judge_service.store.models import JudgeBatchRequestRow, JudgeBatchRow, RunItemRow, RunRow

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


class RunBatch(BaseModel):
    """One provider batch of the run's calls: what was sent, what came back, what the provider says."""

    id: str
    judge: str
    provider_batch_id: str | None
    status: str  # submitting | pending | cancelling | collected | cancelled | failed
    provider_status: str | None  # the provider's word: in_progress, finalizing, ended, expired, ...
    submitted: int  # calls in the batch
    completed: int  # answered
    failed: int  # errored, expired or cancelled (tried again per the judge's retry policy)
    pending: int  # not answered yet
    created_at: str
    ended_at: str | None
    error: str | None


class RunStatus(BaseModel):
    id: str
    status: str
    progress: Progress
    execution: dict[str, str]  # judge -> "direct" | "batch"
    batches: list[RunBatch]
    rubric: RubricRef
    judges: list[str]
    mode: str
    baseline: str
    candidate: str
    error: str | None
    created_at: str
    finished_at: str | None
    cost: RunCost
    rubric_variants: list[RubricRef] = []
    pilot: dict[str, Any] | None = None
    eval_set: EvalSetRef | None = None


class RunItemOut(BaseModel):
    id: str
    status: str
    error: str | None
    result: ItemResult | None


async def _create(ctx: AppContext, spec: RunSpec, items: list[RunItem]) -> RunAccepted:
    return RunAccepted(id=await start_run(ctx, spec, items), status="queued")

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


def _read_run(s: Session, run_id: str) -> RunRow:
    run = s.get(RunRow, run_id)
    if run is None:
        raise NotFound(f"no run with id '{run_id}'", field="id")
    return run


def _read_progress(s: Session, run_id: str, total: int) -> Progress:
    counts = dict(s.query(RunItemRow.status, func.count()).filter_by(run_id=run_id).group_by(RunItemRow.status).all())
    return Progress(done=counts.get("done", 0), failed=counts.get("failed", 0), pending=counts.get("pending", 0),
                    total=total)


def _read_batches(s: Session, run_id: str) -> list[RunBatch]:
    rows = s.query(JudgeBatchRow).filter_by(run_id=run_id).order_by(JudgeBatchRow.created_at)
    out = []
    for r in rows:
        # Request fates are exact once collected; before that the provider's own counts.
        if r.status in ("collected", "cancelled", "failed"):
            fates = dict(s.query(JudgeBatchRequestRow.status, func.count()).filter_by(batch_id=r.id)
                         .group_by(JudgeBatchRequestRow.status).all())
            completed, failed = fates.get("succeeded", 0), fates.get("failed", 0)
        else:
            completed, failed = r.succeeded, r.failed
        out.append(RunBatch(id=r.id, judge=r.judge, provider_batch_id=r.provider_batch_id, status=r.status,
                            provider_status=r.provider_status, submitted=r.requests, completed=completed, failed=failed,
                            pending=max(0, r.requests - completed - failed), created_at=r.created_at.isoformat(),
                            ended_at=r.ended_at.isoformat() if r.ended_at else None, error=r.error))
    return out


@router.get("/{id}", response_model=RunStatus, responses=ERRORS)
async def get_run(id: str, ctx: AppContext = Depends(get_ctx)) -> RunStatus:
    def read(s: Session) -> tuple[RunRow, Progress, list[RunBatch]]:
        run = _read_run(s, id)
        return run, _read_progress(s, id, run.total), _read_batches(s, id)

    run, progress, batches = await ctx.db.run(read)
    cost = await ctx.db.run(lambda _s: run_cost(ctx.db, id, _specs(ctx)))
    spec = run.spec
    return RunStatus(
        id=run.id, status=run.status, progress=progress, execution=spec.get("execution") or {j: "direct" for j in spec["judges"]},
        batches=batches, rubric=RubricRef.model_validate(spec["rubric"]),
        judges=spec["judges"], mode=spec["mode"], baseline=spec["baseline"], candidate=spec["candidate"],
        error=run.error, created_at=run.created_at.isoformat(),
        finished_at=run.finished_at.isoformat() if run.finished_at else None, cost=cost,
        rubric_variants=[RubricRef.model_validate(v) for v in spec.get("variants") or []], pilot=spec.get("pilot"),
        eval_set=EvalSetRef.model_validate(spec["eval_set"]) if spec.get("eval_set") else None,
    )


def _specs(ctx: AppContext) -> dict[str, JudgeSpec]:
    return {j.name: j for j in ctx.judges.specs()}


@router.post("/{id}/cancel", response_model=RunAccepted, responses=ERRORS)
async def cancel_run(id: str, ctx: AppContext = Depends(get_ctx)) -> RunAccepted:
    """Stop a queued or running run (and cancel its provider batches); its judged items are kept.
    A run that has already ended is left as it is (409)."""
    status = await ctx.db.run(lambda s: _read_run(s, id).status)
    if status not in ("queued", "running"):
        raise Conflict(f"run '{id}' is {status}; only a queued or running run can be cancelled", field="id")
    await ctx.runs.cancel(id)
    return RunAccepted(id=id, status="cancelled")


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
    cost = await ctx.db.run(lambda _s: run_cost(ctx.db, id, _specs(ctx)))
    mapping = None
    options = run.spec.get("options") or {}
    calibration = options.get("calibration")
    if calibration is not None:
        mapping = await ctx.db.run(lambda s: _calibration_mapping(s, calibration))
    human_cal = options.get("human_check") or calibration
    human = None if human_cal is None else await ctx.db.run(lambda s: _human_agreement(s, human_cal))
    finished = run.status not in ("queued", "running")
    key = ctx.reports.key(id, run.finished_at, mapping, human, cost.model_dump(mode="json"))
    if finished and (cached := ctx.reports.get(key)) is not None:
        return cached
    # The report's bootstrap intervals take seconds on a big run: off the event loop.
    report = await asyncio.to_thread(_report, run, rows, progress, cost, mapping, human)
    if finished:
        ctx.reports.put(key, report)
    return report


def _human_agreement(s: Session, cal_id: str) -> HumanAgreement | None:
    """The calibration's judge-vs-human figure the gate reads: kappa for votes, Spearman for scores."""
    from judge_service.store.models import CalibrationRow

    row = s.get(CalibrationRow, cal_id)
    report = None if row is None else row.report
    if row is None or not report or not report.get("judge_vs_human"):
        return None
    figures = report["judge_vs_human"]
    name = "cohen_kappa" if report.get("kind") == "pairwise" else "spearman"
    figure = figures.get(name) or {}
    return HumanAgreement(cal_id, tuple(row.spec.get("judges") or ()), name,
                          Estimate(figure.get("estimate"), figure.get("ci_low"), figure.get("ci_high"),
                                   int(figure.get("n") or 0), reason=figure.get("reason")))


class RunComparisonOut(BaseModel):
    runs: list[dict[str, Any]]
    same_rubric: bool
    rubric_diff: str | None
    warnings: list[str]


@router.get("/{id}/compare/{other}", response_model=RunComparisonOut, responses=ERRORS)
async def compare_two_runs(id: str, other: str, ctx: AppContext = Depends(get_ctx)) -> dict[str, Any]:
    """Two runs' headlines side by side; a warning and a diff of the rubric texts when their rubrics differ."""
    report_a = await get_run_report(id, ctx)
    report_b = await get_run_report(other, ctx)
    spec_a = await ctx.db.run(lambda s: dict(_read_run(s, id).spec))
    spec_b = await ctx.db.run(lambda s: dict(_read_run(s, other).spec))
    return compare_runs(spec_a, report_a, spec_b, report_b)


def _calibration_mapping(s: Session, cal_id: str) -> dict[str, Any]:
    from judge_service.store.models import CalibrationRow

    row = s.get(CalibrationRow, cal_id)
    if row is None or row.mapping is None:  # checked usable when the run was created; kept since
        raise NotFound(f"calibration '{cal_id}' of this run is missing", field="options.calibration")
    mapping: dict[str, Any] = row.mapping
    return mapping


def _report(run: RunRow, rows: list[RunItemRow], progress: Progress, cost: RunCost,
            mapping: dict[str, Any] | None, human: HumanAgreement | None = None) -> dict[str, Any]:
    from judge_service.runs.external import external_records, external_report
    from judge_service.runs.ppi_report import ppi_win_rate
    from judge_service.runs.report import ReportOptions, build_report

    spec = run.spec
    results = [ItemResult.read(r.result) for r in rows]
    pairwise, absolute, infos = to_records([r.item for r in rows], results, spec["baseline"], spec["candidate"])
    opts = spec.get("options", {})
    families = opts.get("system_families", {})
    options = ReportOptions(
        confidence=opts.get("confidence", 0.95), n_resamples=opts.get("n_resamples", 2000), seed=run.id,
        style_control=opts.get("style_control", False), judge_families=spec.get("judge_families", {}),
        system_families={role: families[name] for role, name in (("candidate", spec["candidate"]),
                                                                 ("baseline", spec["baseline"])) if name in families},
        exclude_self_preferring=opts.get("exclude_self_preferring", False),
        target_difference=opts.get("target_difference"),
    )
    # Imported verdicts (items' external_judgments): beside the panel, or in it when the run asks.
    in_panel = opts.get("external_judges", "beside") == "panel"
    items = [r.item for r in rows]
    service_pairwise = list(pairwise)
    if in_panel:
        ext_pairwise, ext_absolute = external_records(items, spec["baseline"], spec["candidate"])
        pairwise += ext_pairwise if spec["mode"] in ("pairwise", "both") else []
        absolute += ext_absolute if spec["mode"] in ("absolute", "both") else []
    report = build_report(pairwise, absolute, infos, options, human=human,
                          probes=to_probe_rows(items, results, spec["baseline"]))
    external = external_report(items, spec["baseline"], spec["candidate"], options, in_panel=in_panel,
                               panel=service_pairwise)
    calibrated = None if mapping is None else calibrated_scores(
        opts["calibration"], mapping, results, confidence=opts.get("confidence", 0.95),
        n_resamples=opts.get("n_resamples", 2000), seed=run.id)
    ppi = ppi_win_rate([r.item for r in rows], [r.result for r in rows], spec, opts.get("confidence", 0.95))
    return {"ppi": ppi, "calibrated": calibrated} | {
        "run_id": run.id, "status": run.status, "complete": progress.pending == 0, "progress": progress.model_dump(),
        "rubric": spec["rubric"], "judges": spec["judges"], "baseline": spec["baseline"],
        "candidate": spec["candidate"], "mode": spec["mode"], "cost": cost.model_dump(),
        "rubric_variants": spec.get("variants") or [], "pilot": spec.get("pilot"),
        "external_judges": external} | report.to_dict()
