"""/v1/training-logs/analyses: overfitting onset, best checkpoint and early-stopping advice from logs.

JSON (``files: [{name, content}]``) or multipart (``/upload``: one or more files, or a zip of an
output dir). The analysis is pure (``judge_service.training``); this module reads, stores, shapes.
"""

from __future__ import annotations

import asyncio
import io
import uuid
import zipfile
from dataclasses import asdict
from datetime import datetime, timezone
from typing import Any

from fastapi import APIRouter, Depends, File, Form, Response, UploadFile
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from judge_service.api.deps import get_ctx
from judge_service.context import AppContext
from judge_service.errors import InvalidInput, PayloadTooLarge
from judge_service.schemas import ErrorBody
from judge_service.training import store
from judge_service.training.analysis import analyse
from judge_service.training.chart import render
from judge_service.training.readers import LogFile, read_logs

router = APIRouter(prefix="/v1/training-logs", tags=["training"])
ERRORS: dict[int | str, dict[str, Any]] = {s: {"model": ErrorBody} for s in (404, 413, 422)}
MAX_FILES = 200
MAX_UNZIPPED = 100_000_000  # bytes of log text read from one zip: a bound on memory, not on any real log


class LogFileIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=1000, description="the file's path, e.g. checkpoint-500/trainer_state.json")
    content: str = Field(description="the file's text")


class AnalysisOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    metric: str | None = Field(default=None, max_length=200, description="eval series to judge (default eval_loss)")
    eval_set: str | None = Field(default=None, max_length=200, description="judge eval_<name>_loss of this eval set")
    greater_is_better: bool | None = Field(default=None, description="default: lower is better for losses, WER, perplexity")
    external: dict[str, dict[int, float]] = Field(
        default_factory=dict, description="per-checkpoint figures to show beside the loss, higher is better, e.g. "
                                          '{"judge_win_rate": {"1000": 0.52, "2000": 0.58}}')


class AnalysisCreate(AnalysisOptions):
    files: list[LogFileIn] = Field(min_length=1, max_length=MAX_FILES)
    include_chart: bool = Field(default=False, description="also return the SVG chart in chart_svg")


class FlagOut(BaseModel):
    code: str
    message: str
    advice: str | None


class CheckpointOut(BaseModel):
    step: int
    epoch: float | None
    value: float


class OnsetOut(BaseModel):
    step: int = Field(description="the last evaluation before the rise")
    interval: tuple[int, int] = Field(description="the rise began between these two evaluations")
    epoch: float | None
    kendall_tau: float | None
    p_value: float | None = Field(description="one-sided Kendall trend test over the post-best segment")


class StopOut(BaseModel):
    patience: int
    threshold: float
    stopped_at_step: int | None = Field(description="null: it would have run to the end")
    chosen_step: int = Field(description="the best checkpoint at the stop (load_best_model_at_end)")
    chosen_value: float
    regret: float = Field(description="how much worse the chosen checkpoint is than the true best")
    steps_saved: int


class ExternalOut(BaseModel):
    name: str
    best_step: int
    agrees_with_loss: bool
    message: str


class TrainingAnalysisOut(BaseModel):
    id: str
    created_at: datetime
    sources: list[str]
    format: str
    metric: str
    greater_is_better: bool
    verdict: str = Field(description="overfitting, possible_overfitting, plateau, no_overfitting, diverging, cannot_judge")
    reason: str
    advice: str | None
    n_eval: int
    noise: float | None = Field(description="the eval curve's own noise (robust sd)")
    band_width: float | None = Field(description="checkpoints within this of the best are equivalent")
    best: CheckpointOut | None
    earliest_equivalent: CheckpointOut | None
    equivalent_steps: list[int]
    last: CheckpointOut | None
    rise: float | None
    onset: OnsetOut | None
    train_falling_after_best: bool | None
    wasted_fraction: float | None
    early_stopping: list[StopOut] = Field(description="HF EarlyStoppingCallback replayed over a patience × threshold grid")
    flags: list[FlagOut]
    external: list[ExternalOut]
    eval_series: list[str]
    series: dict[str, int] = Field(description="every series read, with its number of points")
    results_files: dict[str, Any] = Field(description="all_results.json and the like, as a cross-check")
    chart_url: str
    chart_svg: str | None = Field(default=None, description="the chart itself, when include_chart was asked for")


class AnalysisSummary(BaseModel):
    id: str
    created_at: datetime
    sources: list[str]
    verdict: str
    metric: str


def _out(row: store.TrainingAnalysisRow, include_chart: bool = False) -> TrainingAnalysisOut:
    created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=timezone.utc)
    return TrainingAnalysisOut(id=row.id, created_at=created, sources=row.sources, **row.result,
                               chart_url=f"/v1/training-logs/analyses/{row.id}/chart.svg",
                               chart_svg=row.chart_svg if include_chart else None)


async def _analyse(ctx: AppContext, files: list[LogFile], options: AnalysisOptions,
                   include_chart: bool = False) -> TrainingAnalysisOut:
    # Parsing a large log and the analysis are CPU work: off the event loop, so /healthz stays fast.
    log, results = await asyncio.to_thread(read_logs, files)
    analysis = await asyncio.to_thread(analyse, log, metric=options.metric, eval_set=options.eval_set,
                                       greater_is_better=options.greater_is_better, external=options.external)
    result = asdict(analysis) | {"format": log.format, "results_files": results,
                                 "series": {name: len(s.points) for name, s in sorted(log.series.items())}}
    row = store.TrainingAnalysisRow(id=f"tla_{uuid.uuid4().hex[:20]}", sources=[f.name for f in files],
                                    options=options.model_dump(), result=result, chart_svg=render(log, analysis))

    def save(session: Session) -> store.TrainingAnalysisRow:
        session.add(row)
        session.flush()
        return row

    return _out(await ctx.db.run(save), include_chart)


@router.post("/analyses", response_model=TrainingAnalysisOut, status_code=201, responses=ERRORS)
async def create_analysis(body: AnalysisCreate, ctx: AppContext = Depends(get_ctx)) -> TrainingAnalysisOut:
    files = [LogFile(f.name, f.content) for f in body.files]
    return await _analyse(ctx, files, AnalysisOptions(**body.model_dump(exclude={"files", "include_chart"})),
                          body.include_chart)


def _decode(name: str, data: bytes) -> LogFile:
    try:
        return LogFile(name, data.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidInput(f"{name} is not UTF-8 text (TensorBoard event files are not read yet; export the "
                           "scalars to CSV)", field=name) from None


def _unzip(name: str, data: bytes) -> list[LogFile]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise InvalidInput(f"{name} is not a valid zip file", field=name) from None
    wanted = [i for i in archive.infolist() if not i.is_dir() and
              (i.filename.endswith(("trainer_state.json", "trainer_log.jsonl", "results.json", ".csv"))
               or "/metrics/" in i.filename)]
    if sum(i.file_size for i in wanted) > MAX_UNZIPPED:  # checked before reading: a zip bomb stays unread
        raise PayloadTooLarge(f"{name} unpacks to more than {MAX_UNZIPPED} bytes of logs", field=name)
    if not wanted:
        raise InvalidInput(f"{name} holds no trainer_state.json, trainer_log.jsonl, CSV or MLflow metric file",
                           field=name)
    return [_decode(f"{name}:{i.filename}", archive.read(i)) for i in wanted]


@router.post("/analyses/upload", response_model=TrainingAnalysisOut, status_code=201, responses=ERRORS)
async def upload_analysis(files: list[UploadFile] = File(description="logs, or a zip of an output dir"),
                          metric: str | None = Form(default=None), eval_set: str | None = Form(default=None),
                          greater_is_better: bool | None = Form(default=None),
                          ctx: AppContext = Depends(get_ctx)) -> TrainingAnalysisOut:
    logs: list[LogFile] = []
    for upload in files[:MAX_FILES]:
        data = await upload.read()
        name = upload.filename or "upload"
        logs.extend(_unzip(name, data) if name.endswith(".zip") else [_decode(name, data)])
    return await _analyse(ctx, logs, AnalysisOptions(metric=metric, eval_set=eval_set,
                                                     greater_is_better=greater_is_better))


@router.get("/analyses", response_model=list[AnalysisSummary], responses=ERRORS)
async def list_analyses(ctx: AppContext = Depends(get_ctx)) -> list[AnalysisSummary]:
    rows = await ctx.db.run(store.recent)
    return [AnalysisSummary(id=r.id, created_at=_out(r).created_at, sources=r.sources, verdict=r.result["verdict"],
                            metric=r.result["metric"]) for r in rows]


@router.get("/analyses/{id}", response_model=TrainingAnalysisOut, responses=ERRORS)
async def get_analysis(id: str, include_chart: bool = False,
                       ctx: AppContext = Depends(get_ctx)) -> TrainingAnalysisOut:
    return _out(await ctx.db.run(lambda s: store.get(s, id)), include_chart)


@router.get("/analyses/{id}/chart.svg", response_class=Response, responses={**ERRORS, 200: {"content": {"image/svg+xml": {}}}})
async def get_chart(id: str, ctx: AppContext = Depends(get_ctx)) -> Response:
    row = await ctx.db.run(lambda s: store.get(s, id))
    return Response(row.chart_svg, media_type="image/svg+xml")
