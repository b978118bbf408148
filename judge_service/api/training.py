"""Training-log analyses: POST /v1/training-logs/analyses (multipart files, a zip of an
output_dir, or JSON), GET by id, list, GET …/chart.svg, and a checkpoint sweep (POST/GET …/sweep).

Reading and analysing a log is CPU work, so it runs in a worker thread, never on the event loop.
Bodies are bounded by JUDGE_MAX_BODY_BYTES before they get here (a 200 MB log is a 413).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import uuid
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import UploadFile

from judge_service.api.deps import get_ctx
from judge_service.context import AppContext
from judge_service.errors import Conflict, InvalidInput, NotFound
from judge_service.runs.spec import RunItem, RunOptions, RunSpec, validate_items
from judge_service.runs.start import start_run
from judge_service.schemas import ErrorBody, EstimateOut
from judge_service.store.models import RunRow
from judge_service.stats.estimate import Estimate
from judge_service.training import store, sweep
from judge_service.training.bundle import read_bundle
from judge_service.training.chart import render_svg
from judge_service.training.report import analyse

router = APIRouter(prefix="/v1/training-logs", tags=["training"])
ERRORS: dict[int | str, dict[str, Any]] = {s: {"model": ErrorBody} for s in (404, 413, 422)}


class FigureIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    estimate: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int = 0


class LogFileIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=500, description="file name or path (e.g. checkpoint-500/trainer_state.json)")
    content: str | None = Field(default=None, description="the file's text")
    content_base64: str | None = Field(default=None, description="the file's bytes (binary TensorBoard events, zips)")


class AnalysisOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, max_length=200, description="a label for the stored analysis")
    metric: str | None = Field(default=None, description="eval series to judge (default eval_loss)")
    eval_set: str | None = Field(default=None, description="with several eval sets: judge eval_<set>_loss")
    greater_is_better: bool | None = Field(default=None, description="default: false for losses/WER, true otherwise")
    checkpoints: dict[str, dict[str, FigureIn]] | None = Field(
        default=None, description="judge or benchmark figures per checkpoint, e.g. {\"checkpoint-500\": "
                                  "{\"judge_win_rate\": {\"estimate\": 0.61, \"ci_low\": 0.55, \"ci_high\": 0.67, \"n\": 200}}}")
    runs: dict[str, str] | None = Field(
        default=None, description="judge runs per checkpoint ({\"checkpoint-500\": \"<run id>\"}: that checkpoint "
                                  "as candidate against base); their win rate is shown beside the loss as judge_win_rate")
    per_example: dict[str, list[float]] | None = Field(
        default=None, description="per-example eval losses of two checkpoints, same examples in the same order")


class AnalysisRequest(AnalysisOptions):
    logs: list[LogFileIn] = Field(min_length=1, max_length=5000)


class FlagOut(BaseModel):
    code: str
    severity: str
    message: str


class AnalysisOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    name: str | None
    created_at: str
    verdict: str
    metric: str | None
    reasons: list[str]
    flags: list[FlagOut]
    primary: dict[str, Any] | None
    secondary: list[dict[str, Any]]
    early_stopping: list[dict[str, Any]]
    epoch_advice: dict[str, Any] | None
    external: list[dict[str, Any]]
    paired: dict[str, Any] | None
    disagreements: list[str]
    formats: list[str]
    sources: list[str]
    notes: list[str]
    chart_url: str


class AnalysisSummary(BaseModel):
    id: str
    name: str | None
    created_at: str
    verdict: str
    metric: str | None


def _out(row: store.TrainingAnalysisRow) -> AnalysisOut:
    result = {k: v for k, v in row.result.items() if k not in ("chart", "series", "start_up_spike")}
    return AnalysisOut(id=row.id, name=row.name, created_at=row.created_at.isoformat(), chart_url=f"/v1/training-logs/analyses/{row.id}/chart.svg",
                       **result)


async def _files_from_request(request: Request) -> tuple[list[tuple[str, bytes]], AnalysisOptions]:
    kind = request.headers.get("content-type", "")
    if kind.startswith("multipart/form-data"):
        form = await request.form()
        files: list[tuple[str, bytes]] = []
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                files.append((value.filename or key, await value.read()))
        raw = form.get("options")
        try:
            options = AnalysisOptions.model_validate_json(raw) if isinstance(raw, str) and raw.strip() else AnalysisOptions()
        except ValidationError as e:
            raise InvalidInput(f"options: {e.errors()[0]['msg']} at {'.'.join(map(str, e.errors()[0]['loc']))}",
                               field="options") from None
        return files, options
    try:
        body = AnalysisRequest.model_validate_json(await request.body())
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(map(str, first["loc"]))
        raise InvalidInput(f"{where}: {first['msg']}; send JSON {{logs: [{{name, content}}], …}} or multipart files",
                           field=where or "body") from None
    return files_of(body)


def files_of(body: AnalysisRequest) -> tuple[list[tuple[str, bytes]], AnalysisOptions]:
    """A JSON analysis request's logs as (name, bytes), and its options."""
    files = []
    for log in body.logs:
        if log.content_base64 is not None:
            try:
                files.append((log.name, base64.b64decode(log.content_base64, validate=True)))
            except (binascii.Error, ValueError):
                raise InvalidInput(f"'{log.name}': content_base64 is not base64", field="logs") from None
        elif log.content is not None:
            files.append((log.name, log.content.encode("utf-8")))
        else:
            raise InvalidInput(f"'{log.name}' has neither content nor content_base64", field="logs")
    return files, AnalysisOptions.model_validate(body.model_dump(exclude={"logs"}))


async def _run_figures(ctx: AppContext, runs: dict[str, str]) -> dict[str, dict[str, Estimate]]:
    """Each run's pooled pairwise win rate, read through the runs API's own report (its one home)."""
    from judge_service.api.runs import get_run_report

    out: dict[str, dict[str, Estimate]] = {}
    for label, run_id in runs.items():
        report = await get_run_report(run_id, ctx)
        win = (report.get("pairwise") or {}).get("win_rate")
        if not win or win.get("estimate") is None:
            raise InvalidInput(f"run '{run_id}' (for {label}) has no pairwise win rate yet; wait until it is done, or "
                               "pass its figure in 'checkpoints'", field="runs")
        out[label] = {"judge_win_rate": Estimate(win["estimate"], win.get("ci_low"), win.get("ci_high"), win.get("n", 0))}
    return out


def _run(files: list[tuple[str, bytes]], options: AnalysisOptions,
         from_runs: dict[str, dict[str, Estimate]]) -> dict[str, Any]:
    checkpoints: dict[str, dict[str, Estimate]] = {}
    for label, given in (options.checkpoints or {}).items():
        checkpoints[label] = {m: Estimate(f.estimate, f.ci_low, f.ci_high, f.n) for m, f in given.items()}
    for label, fetched in from_runs.items():
        checkpoints.setdefault(label, {}).update(fetched)
    return analyse(read_bundle(files), metric=options.metric, eval_set=options.eval_set,
                   greater_is_better=options.greater_is_better, checkpoints=checkpoints or None,
                   per_example=options.per_example)


@router.post("/analyses", response_model=AnalysisOut, status_code=201, responses=ERRORS, openapi_extra={
    "requestBody": {"content": {
        "application/json": {"schema": AnalysisRequest.model_json_schema()},
        "multipart/form-data": {"schema": {"type": "object", "properties": {
            "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
            "options": {"type": "string", "description": "AnalysisOptions as JSON"}}}}}}})
async def create_analysis(request: Request, ctx: AppContext = Depends(get_ctx)) -> AnalysisOut:
    """Analyse training logs: verdict, best checkpoint and band, onset, early-stopping replay, chart."""
    files, options = await _files_from_request(request)
    return await analyse_and_store(ctx, files, options)


async def analyse_and_store(ctx: AppContext, files: list[tuple[str, bytes]], options: AnalysisOptions) -> AnalysisOut:
    """The one home of an analysis: read, analyse (off the loop), store. Evaluations call it too."""
    from_runs = await _run_figures(ctx, options.runs) if options.runs else {}
    result = await asyncio.to_thread(_run, files, options, from_runs)
    result = _scrub(result)
    row = store.TrainingAnalysisRow(id="tla_" + uuid.uuid4().hex[:20], name=options.name, verdict=result["verdict"],
                                    metric=result.get("metric"), result=result)
    saved = await ctx.db.run(lambda s: store.save(s, row))
    return _out(saved)


def _scrub(value: Any) -> Any:
    """JSON has no nan/inf: the edge's one non-finite policy (None)."""
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub(v) for v in value]
    return value


@router.get("/analyses", response_model=list[AnalysisSummary])
async def list_analyses(limit: int = 50, ctx: AppContext = Depends(get_ctx)) -> list[AnalysisSummary]:
    rows = await ctx.db.run(lambda s: store.recent(s, max(1, min(limit, 500))))
    return [AnalysisSummary(id=r.id, name=r.name, created_at=r.created_at.isoformat(), verdict=r.verdict, metric=r.metric)
            for r in rows]


@router.get("/analyses/{id}", response_model=AnalysisOut, responses=ERRORS)
async def get_analysis(id: str, ctx: AppContext = Depends(get_ctx)) -> AnalysisOut:
    return _out(await ctx.db.run(lambda s: store.get(s, id)))


@router.get("/analyses/{id}/chart.svg", response_class=Response, responses={
    200: {"content": {"image/svg+xml": {"schema": {"type": "string"}}}, "description": "the chart"}, **ERRORS})
async def get_chart(id: str, ctx: AppContext = Depends(get_ctx)) -> Response:
    row = await ctx.db.run(lambda s: store.get(s, id))
    return Response(render_svg(row.result), media_type="image/svg+xml")


# -- checkpoint sweep ----------------------------------------------------------------------------

class SweepCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rubric: str = Field(min_length=1)
    judges: list[str] | None = Field(default=None, min_length=1, description="default: the configured panel")
    baseline: str = Field(min_length=1, description="the base model's name in the items' outputs")
    checkpoint_name: str = Field(default="checkpoint-{step}", description="how a checkpoint's outputs are keyed")
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    options: RunOptions = Field(default_factory=RunOptions)
    items: list[RunItem] = Field(min_length=1, description="the same prompts, with the base model's and each swept "
                                                            "checkpoint's output")


class SweepCheckpointOut(BaseModel):
    step: int
    roles: list[str] = Field(description="best_by_loss, earliest_equivalent, last: why this checkpoint is swept")
    system: str
    run_id: str
    status: str
    metric_value: float | None = Field(description="the analysed eval metric at this step")
    win_rate: EstimateOut | None = Field(description="this checkpoint's pairwise win rate against base, when its run is done")


class SweepOut(BaseModel):
    analysis_id: str
    metric: str | None
    rubric: str
    baseline: str
    checkpoints: list[SweepCheckpointOut]
    agreement: str = Field(description="agree | disagree | cannot_tell | pending")
    judges_prefer: str | None = None
    statement: str


async def _sweep_out(ctx: AppContext, row: store.TrainingAnalysisRow) -> SweepOut:
    from judge_service.api.runs import get_run_report

    stored = row.result.get("sweep")
    if not stored:
        raise NotFound(f"analysis '{row.id}' has no checkpoint sweep; start one with POST "
                       f"/v1/training-logs/analyses/{row.id}/sweep", field="id")
    primary = row.result.get("primary") or {}
    value_at = {primary.get("best_step"): primary.get("best_value"), primary.get("last_step"): primary.get("last_value"),
                primary.get("earliest_equivalent_step"): primary.get("earliest_equivalent_value")}
    run_ids = [c["run_id"] for c in stored["checkpoints"]]
    statuses = dict(await ctx.db.run(lambda s: s.query(RunRow.id, RunRow.status).filter(RunRow.id.in_(run_ids)).all()))
    checkpoints: list[dict[str, Any]] = []
    for c in stored["checkpoints"]:
        status = statuses.get(c["run_id"], "missing")
        win = None
        if status == "done":
            win = ((await get_run_report(c["run_id"], ctx)).get("pairwise") or {}).get("win_rate")
        checkpoints.append(c | {"status": status, "metric_value": value_at.get(c["step"]), "win_rate": win})
    verdict = sweep.summary(checkpoints)
    return SweepOut(analysis_id=row.id, metric=row.metric, rubric=stored["rubric"], baseline=stored["baseline"],
                    checkpoints=[SweepCheckpointOut.model_validate(c) for c in checkpoints], **verdict)


@router.post("/analyses/{id}/sweep", response_model=SweepOut, status_code=202, responses={409: {"model": ErrorBody}, **ERRORS})
async def create_sweep(id: str, body: SweepCreate, ctx: AppContext = Depends(get_ctx)) -> SweepOut:
    """Judge the checkpoints the analysis names (best by loss, earliest equivalent, last) against base."""
    row = await ctx.db.run(lambda s: store.get(s, id))
    if row.result.get("sweep"):
        runs = [c["run_id"] for c in row.result["sweep"]["checkpoints"]]
        raise Conflict(f"analysis '{id}' already has a sweep (runs {runs}); read it with GET …/sweep, or analyse "
                       "the logs again for a new one", field="id")
    wanted = sweep.targets(row.result, body.checkpoint_name)
    items = [item.model_dump(mode="json", exclude_none=True) for item in body.items]
    sweep.check_outputs(items, body.baseline, wanted)
    specs = []
    for target in wanted:  # every run checked before any is stored: a sweep starts whole or not at all
        spec = RunSpec(rubric=body.rubric, judges=body.judges, mode="pairwise", baseline=body.baseline,
                       candidate=target.system, seed=body.seed, options=body.options)
        run_items = [RunItem.model_validate(sweep.project(item, body.baseline, target.system)) for item in items]
        validate_items(spec, run_items, max_items=ctx.settings.max_run_items, max_text_chars=ctx.settings.max_text_chars)
        specs.append((target, spec, run_items))
    checkpoints = []
    for target, spec, run_items in specs:
        run_id = await start_run(ctx, spec, run_items)
        checkpoints.append({"step": target.step, "roles": list(target.roles), "system": target.system, "run_id": run_id})
    stored = {"rubric": body.rubric, "baseline": body.baseline, "checkpoint_name": body.checkpoint_name,
              "checkpoints": checkpoints}

    def save(s: Session) -> store.TrainingAnalysisRow:
        fresh = store.get(s, id)
        fresh.result = fresh.result | {"sweep": stored}  # a new dict: the JSON column sees the change
        return fresh

    return await _sweep_out(ctx, await ctx.db.run(save))


@router.get("/analyses/{id}/sweep", response_model=SweepOut, responses=ERRORS)
async def get_sweep(id: str, ctx: AppContext = Depends(get_ctx)) -> SweepOut:
    """The sweep's runs, each checkpoint's win rate beside its loss, and whether judges and loss agree."""
    return await _sweep_out(ctx, await ctx.db.run(lambda s: store.get(s, id)))
