"""/v1/evaluations: one base-vs-tuned evaluation across every layer, with one combined verdict.

An evaluation names its layers' results: a judge run (``run_id``), a training-log analysis
(``analysis_id``), and the answers of the perplexity and overlap-metric endpoints (by value, since
those are computed on request). Each layer's verdict is recomputed from its current state when
the evaluation is read, so a judge run still in progress makes the evaluation ``running`` and it
completes by itself (the run is resumable, and so is the evaluation). ``judge evaluate eval.yaml``
and ``client.evaluate_finetune(...)`` create the layers and then the evaluation.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import datetime, timezone
from typing import Any, Literal

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from judge_service.api.deps import get_ctx
from judge_service.context import AppContext
from judge_service.errors import InvalidInput, NotFound
from judge_service.evalsets import store as evalset_store
from judge_service.evalsets.content import diff
from judge_service.evaluation import adapters, html
from judge_service.evaluation import store
from judge_service.evaluation.summary import LayerVerdict, combine
from judge_service.api.metrics import OverlapRequest, PerplexityRequest
from judge_service.api.training import AnalysisRequest
from judge_service.runs.spec import RunItem, RunOptions
from judge_service.schemas import ErrorBody, EvalSetRef
from judge_service.benchmarks.store import BenchmarkComparisonRow
from judge_service.store.models import RunRow
from judge_service.training import store as training_store
from judge_service.training.chart import render_svg

router = APIRouter(prefix="/v1/evaluations", tags=["evaluations"])
ERRORS: dict[int | str, dict[str, Any]] = {s: {"model": ErrorBody} for s in (404, 413, 422)}


class InlineRunIn(BaseModel):
    """A judge run the service starts for the evaluation: POST /v1/runs without baseline/candidate."""

    model_config = ConfigDict(extra="forbid")
    rubric: str = Field(min_length=1)
    judges: list[str] | None = Field(default=None, min_length=1)
    mode: Literal["pairwise", "absolute", "both"] = "pairwise"
    samples: int = Field(default=1, ge=1)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    options: RunOptions = Field(default_factory=RunOptions)
    items: list[RunItem] = Field(description="both systems' outputs under the evaluation's baseline/candidate names")


class JudgeLayerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    run_id: str | None = Field(default=None, description="a base-vs-tuned run (POST /v1/runs) over the same two systems")
    run: InlineRunIn | None = Field(default=None, description="or: the run to start (in the background, resumable)")


class TrainingLayerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    analysis_id: str | None = Field(default=None, description="a training-log analysis (POST /v1/training-logs/analyses)")
    analysis: AnalysisRequest | None = Field(default=None, description="or: the logs to analyse (as that endpoint's "
                                                                       "JSON body)")


class BenchmarksLayerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    comparison_id: str = Field(description="a benchmark comparison (POST /v1/benchmark-comparisons)")


class OverlapLayerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    regurgitation_id: str | None = Field(default=None, description="a report of POST /v1/regurgitation")
    contamination_id: str | None = Field(default=None, description="a report of POST /v1/contamination")


class PerplexityLayerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    result: dict[str, Any] | None = Field(default=None, description="POST /v1/metrics/perplexity's answer (compare mode)")
    request: PerplexityRequest | None = Field(default=None, description="or: that endpoint's request, with base_model "
                                                                        "and tuned_model; the service computes it "
                                                                        "(api_key is used, never stored)")


class TaskMetricsLayerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    result: dict[str, Any] | None = Field(default=None, description="POST /v1/metrics/overlap's answer with predictions_b")
    request: OverlapRequest | None = Field(default=None, description="or: that endpoint's request (predictions = "
                                                                     "baseline, predictions_b = candidate); computed here")
    primary: str | None = Field(default=None, description="the metric that decides (default: all)")


class LayersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    judge: JudgeLayerIn | None = None
    training: TrainingLayerIn | None = None
    benchmarks: BenchmarksLayerIn | None = None
    overlap: OverlapLayerIn | None = None
    perplexity: PerplexityLayerIn | None = Field(default=None, description="held-out perplexity, base vs tuned")
    task_metrics: TaskMetricsLayerIn | None = Field(default=None, description="overlap metrics on references, paired")


class EvaluationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, max_length=200)
    baseline: str = Field(min_length=1, max_length=200)
    candidate: str = Field(min_length=1, max_length=200)
    eval_set: EvalSetRef | None = Field(default=None, description="the eval-set version the layers were run on")
    layers: LayersIn


class LayerOut(BaseModel):
    layer: str
    status: str = Field(description="better, worse, equivalent, inconclusive, cannot_judge (comparative layers); "
                                    "ok, concern (training, overlap)")
    headline: str
    reason: str | None
    action: str | None


class SummaryOut(BaseModel):
    verdict: str = Field(description="better, regression, mixed, no_difference, worse, undetermined")
    line: str
    rule: str
    concerns: list[str]
    missing: list[str]


class EvalSetOut(BaseModel):
    name: str
    version: int
    content_hash: str


class EvaluationOut(BaseModel):
    id: str
    name: str | None
    created_at: datetime
    baseline: str
    candidate: str
    status: str = Field(description="running while a layer (the judge run) is still working; done after")
    eval_set: EvalSetOut | None
    layers: list[LayerOut]
    summary: SummaryOut
    references: dict[str, str] = Field(description="layer → the id of its stored result")
    report_html_url: str


class EvaluationComparison(BaseModel):
    a: EvaluationOut
    b: EvaluationOut
    comparable: bool
    warnings: list[str]
    added: list[str] = Field(description="eval items in b's eval-set version and not in a's")
    removed: list[str]
    changed: list[str]


def _one_of(layer: BaseModel | None, by_id: str, inline: str, where: str) -> None:
    if layer is not None and (getattr(layer, by_id) is None) == (getattr(layer, inline) is None):
        raise InvalidInput(f"give exactly one of '{by_id}' or '{inline}'", field=f"layers.{where}")


async def _run_inline(ctx: AppContext, body: EvaluationCreate) -> None:
    """Server-side orchestration: compute the layers given as requests; each is then held by id or value.

    Checked all before any is run, so a typo in the last layer costs no judge calls. The judge run
    goes on in the background (the evaluation reads ``running`` until it is done); the training
    analysis, perplexity and task metrics are computed in this request, as their endpoints do.
    """
    from judge_service.api.metrics import overlap_endpoint, perplexity_endpoint
    from judge_service.api.runs import create_run
    from judge_service.api.training import analyse_and_store, files_of
    from judge_service.runs.spec import RunCreate

    layers = body.layers
    ppl = layers.perplexity.request if layers.perplexity else None
    if ppl is not None and (ppl.base_model is None or ppl.tuned_model is None):
        raise InvalidInput("the perplexity layer compares two models: give base_model and tuned_model",
                           field="layers.perplexity.request.base_model")
    tm = layers.task_metrics.request if layers.task_metrics else None
    if tm is not None and tm.predictions_b is None:
        raise InvalidInput("the task-metrics layer is paired: give predictions_b (the candidate's predictions)",
                           field="layers.task_metrics.request.predictions_b")
    if layers.training is not None and layers.training.analysis is not None:
        files, options = files_of(layers.training.analysis)
        analysis = await analyse_and_store(ctx, files, options)
        layers.training = TrainingLayerIn(analysis_id=analysis.id)
    if ppl is not None and layers.perplexity is not None:
        layers.perplexity = PerplexityLayerIn(result=await perplexity_endpoint(ppl, ctx))  # api_key dropped here
    if tm is not None and layers.task_metrics is not None:
        layers.task_metrics = TaskMetricsLayerIn(result=await overlap_endpoint(tm, ctx),
                                                 primary=layers.task_metrics.primary)
    if layers.judge is not None and layers.judge.run is not None:
        spec = layers.judge.run.model_dump(exclude={"items"})
        run = RunCreate.model_validate(spec | {"baseline": body.baseline, "candidate": body.candidate,
                                               "eval_set": body.eval_set.model_dump() if body.eval_set else None,
                                               "items": [i.model_dump() for i in layers.judge.run.items]})
        layers.judge = JudgeLayerIn(run_id=(await create_run(run, ctx)).id)


async def _check_refs(ctx: AppContext, body: EvaluationCreate) -> None:
    layers = body.layers
    _one_of(layers.judge, "run_id", "run", "judge")
    _one_of(layers.training, "analysis_id", "analysis", "training")
    _one_of(layers.perplexity, "result", "request", "perplexity")
    _one_of(layers.task_metrics, "result", "request", "task_metrics")

    def work(s: Session) -> None:
        if body.layers.judge is not None and body.layers.judge.run_id is not None:
            run = s.get(RunRow, body.layers.judge.run_id)
            if run is None:
                raise InvalidInput(f"no run '{body.layers.judge.run_id}'", field="layers.judge.run_id")
            if (run.spec["baseline"], run.spec["candidate"]) != (body.baseline, body.candidate):
                raise InvalidInput(f"run {run.id} compares '{run.spec['baseline']}' with '{run.spec['candidate']}', "
                                   f"not '{body.baseline}' with '{body.candidate}'", field="layers.judge.run_id")
            run_set = run.spec.get("eval_set")
            if run_set is not None:
                if body.eval_set is None:  # the run's version is the evaluation's
                    body.eval_set = EvalSetRef.model_validate(run_set)
                elif body.eval_set.model_dump() != run_set:
                    raise InvalidInput(f"run {run.id} was made on eval set '{run_set['name']}' v{run_set['version']}, "
                                       f"not '{body.eval_set.name}' v{body.eval_set.version}", field="eval_set")
        if body.layers.training is not None and body.layers.training.analysis_id is not None:
            try:
                training_store.get(s, body.layers.training.analysis_id)
            except NotFound:
                raise InvalidInput(f"no training-log analysis '{body.layers.training.analysis_id}'",
                                   field="layers.training.analysis_id") from None
        if body.layers.benchmarks is not None and s.get(BenchmarkComparisonRow, body.layers.benchmarks.comparison_id) is None:
            raise InvalidInput(f"no benchmark comparison '{body.layers.benchmarks.comparison_id}'",
                               field="layers.benchmarks.comparison_id")
        if body.eval_set is not None:
            try:
                evalset_store.get(s, body.eval_set.name, body.eval_set.version)
            except NotFound as e:
                raise InvalidInput(str(e), field="eval_set") from None

    await ctx.db.run(work)
    if body.layers.overlap is not None:
        from judge_service.api.memorization import get_contamination, get_regurgitation

        o = body.layers.overlap
        if o.regurgitation_id is None and o.contamination_id is None:
            raise InvalidInput("the overlap layer needs regurgitation_id and/or contamination_id", field="layers.overlap")
        for key, report_id, get in (("regurgitation_id", o.regurgitation_id, get_regurgitation),
                                    ("contamination_id", o.contamination_id, get_contamination)):
            if report_id is not None:
                try:
                    await get(report_id, ctx)
                except NotFound:
                    raise InvalidInput(f"no report '{report_id}'", field=f"layers.overlap.{key}") from None
    if not any(v is not None for v in body.layers.model_dump().values()):
        raise InvalidInput("an evaluation needs at least one layer (judge, training, perplexity, task_metrics)",
                           field="layers")


async def _report(ctx: AppContext, row: store.EvaluationRow) -> tuple[EvaluationOut, dict[str, str]]:
    from judge_service.api.runs import get_run_report  # the run report is built where runs are served

    layers: list[LayerVerdict] = []
    charts: dict[str, str] = {}
    refs: dict[str, str] = {}
    running = False
    spec = row.layers
    if spec.get("judge"):
        run_id = spec["judge"]["run_id"]
        refs["judge"] = run_id
        report = await get_run_report(run_id, ctx)
        running = not report.get("complete", True)
        layers.append(adapters.judge_layer(report))
    for key, adapt in (("perplexity", adapters.perplexity_layer),):
        if spec.get(key):
            layers.append(adapt(spec[key]["result"]))
    if spec.get("task_metrics"):
        layers.append(adapters.task_metrics_layer(spec["task_metrics"]["result"], spec["task_metrics"].get("primary")))
    if spec.get("benchmarks"):
        from judge_service.api.benchmarks import get_benchmark_comparison

        comparison_id = spec["benchmarks"]["comparison_id"]
        refs["benchmarks"] = comparison_id
        layers.append(adapters.benchmarks_layer(await get_benchmark_comparison(comparison_id, ctx)))
    if spec.get("overlap"):
        from judge_service.api.memorization import get_contamination, get_regurgitation

        o = spec["overlap"]
        reg = await get_regurgitation(o["regurgitation_id"], ctx) if o.get("regurgitation_id") else None
        con = await get_contamination(o["contamination_id"], ctx) if o.get("contamination_id") else None
        refs.update({k: v for k, v in o.items() if v})
        layers.append(adapters.overlap_layer(reg, con))
    if spec.get("training"):
        analysis_id = spec["training"]["analysis_id"]
        refs["training"] = analysis_id
        t = await ctx.db.run(lambda s: training_store.get(s, analysis_id))
        layers.append(adapters.training_layer(t.result))
        charts["training curves"] = render_svg(t.result)
    combined = combine(layers)
    eval_set = None
    if row.eval_set_name and row.eval_set_version:
        name, version = row.eval_set_name, row.eval_set_version
        v = await ctx.db.run(lambda s: evalset_store.get(s, name, version))
        eval_set = EvalSetOut(name=v.name, version=v.version, content_hash=v.content_hash)
    created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=timezone.utc)
    out = EvaluationOut(
        id=row.id, name=row.name, created_at=created, baseline=row.baseline, candidate=row.candidate,
        status="running" if running else "done", eval_set=eval_set,
        layers=[LayerOut(**asdict(v)) for v in layers],
        summary=SummaryOut(verdict=combined.verdict, line=combined.line, rule=combined.rule,
                           concerns=combined.concerns, missing=combined.missing),
        references=refs, report_html_url=f"/v1/evaluations/{row.id}/report.html")
    return out, charts


@router.post("", response_model=EvaluationOut, status_code=201, responses=ERRORS)
async def create_evaluation(body: EvaluationCreate, ctx: AppContext = Depends(get_ctx)) -> EvaluationOut:
    if body.baseline == body.candidate:
        raise InvalidInput("baseline and candidate must be different systems", field="candidate")
    await _check_refs(ctx, body)  # the stored references first: a bad one costs no judge calls
    await _run_inline(ctx, body)
    await _check_refs(ctx, body)  # and the layers just made (the run's eval-set version)
    row = store.EvaluationRow(id=f"eval_{uuid.uuid4().hex[:20]}", name=body.name, baseline=body.baseline,
                              candidate=body.candidate,
                              eval_set_name=body.eval_set.name if body.eval_set else None,
                              eval_set_version=body.eval_set.version if body.eval_set else None,
                              layers=body.layers.model_dump(exclude_none=True))

    def save(s: Session) -> store.EvaluationRow:
        s.add(row)
        s.flush()
        return row

    out, _ = await _report(ctx, await ctx.db.run(save))
    return out


@router.get("/{id}", response_model=EvaluationOut, responses=ERRORS)
async def get_evaluation(id: str, ctx: AppContext = Depends(get_ctx)) -> EvaluationOut:
    out, _ = await _report(ctx, await ctx.db.run(lambda s: store.get(s, id)))
    return out


@router.get("/{id}/report.html", response_class=Response,
            responses={**ERRORS, 200: {"content": {"text/html": {"schema": {"type": "string"}}}}})
async def get_evaluation_html(id: str, ctx: AppContext = Depends(get_ctx)) -> Response:
    out, charts = await _report(ctx, await ctx.db.run(lambda s: store.get(s, id)))
    return Response(html.render(out.model_dump(mode="json"), charts), media_type="text/html")


@router.get("/{id}/compare/{other}", response_model=EvaluationComparison, responses=ERRORS)
async def compare_evaluations(id: str, other: str, ctx: AppContext = Depends(get_ctx)) -> EvaluationComparison:
    a, _ = await _report(ctx, await ctx.db.run(lambda s: store.get(s, id)))
    b, _ = await _report(ctx, await ctx.db.run(lambda s: store.get(s, other)))
    warnings: list[str] = []
    added: list[str] = []
    removed: list[str] = []
    changed: list[str] = []
    comparable = True
    if a.eval_set is None or b.eval_set is None:
        warnings.append("at least one evaluation names no eval-set version: nothing shows they saw the same items")
        comparable = False
    elif a.eval_set.name != b.eval_set.name:
        warnings.append(f"different eval sets: '{a.eval_set.name}' and '{b.eval_set.name}'")
        comparable = False
    elif a.eval_set.version != b.eval_set.version:
        ea, eb = a.eval_set, b.eval_set
        va = await ctx.db.run(lambda s: evalset_store.get(s, ea.name, ea.version))
        vb = await ctx.db.run(lambda s: evalset_store.get(s, eb.name, eb.version))
        d = diff(va.item_hashes, vb.item_hashes)
        added, removed, changed = d.added, d.removed, d.changed
        if not d.identical:
            comparable = False
            warnings.append(f"eval set '{ea.name}' v{ea.version} vs v{eb.version}: {d.summary()}; the figures are "
                            f"not comparable; re-run the older model on v{eb.version}")
    return EvaluationComparison(a=a, b=b, comparable=comparable, warnings=warnings, added=added, removed=removed,
                                changed=changed)

