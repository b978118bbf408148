"""Benchmark comparisons: POST/GET /v1/benchmark-comparisons, GET /v1/runs/{id}/benchmark-comparisons.

POST takes JSON (``{"base": {"label", "files": {name: content}}, "tuned": ..., "checkpoints": [...]}``)
or multipart (``base``/``tuned`` files, repeated ``checkpoint`` files, one zip or results file per
checkpoint). Parsing and bootstraps run off the event loop."""

from __future__ import annotations

import asyncio
import json
from datetime import timezone
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from judge_service.api.deps import get_ctx
from judge_service.engine.verdicts import new_id
from judge_service.benchmarks.compare import compare
from judge_service.benchmarks.readers import read_arm
from judge_service.benchmarks.store import BenchmarkComparisonRow
from judge_service.context import AppContext
from judge_service.errors import InvalidInput, NotFound
from judge_service.schemas import ErrorBody, EstimateOut
from judge_service.store.models import RunRow
from judge_service.security import untrusted

router = APIRouter(prefix="/v1", tags=["benchmarks"])
ERRORS: dict[int | str, dict[str, Any]] = {s: {"model": ErrorBody} for s in (404, 413, 422)}
MAX_ARMS = 20


class ArmIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str | None = Field(default=None, max_length=200)
    files: dict[str, Any] = Field(min_length=1, description="file name -> content (a JSON object, or text)")


class ComparisonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    base: ArmIn
    tuned: ArmIn
    checkpoints: list[ArmIn] = Field(default_factory=list, max_length=MAX_ARMS)
    tasks: list[str] | None = None
    margin: float = Field(default=0.01, gt=0, le=1, description="equivalence margin; 0.01 = 1 point of a 0-1 score")
    alpha: float = Field(default=0.05, gt=0, lt=0.5)
    n_resamples: int = Field(default=2000, ge=100, le=20000)
    seed: str = "benchmarks"
    strict: bool = Field(default=False, description="refuse (422) on any parity mismatch, not only different documents")
    run_id: str | None = Field(default=None, description="attach to this judge run")


class RowOut(BaseModel):
    task: str
    filter: str
    metric: str
    kind: str
    base: float | None
    tuned: float | None
    difference: EstimateOut
    improvement: float | None
    higher_is_better: bool
    method: str
    margin: float | None
    margin_basis: str
    p_value: float | None = None
    p_holm: float | None = None
    p_bh: float | None = None
    tost_p: float | None = None
    mdd: float | None = None
    se: float | None = None
    status: str
    base_only: int | None = None
    tuned_only: int | None = None
    wilcoxon_p: float | None = None
    correlation_needed: float | None = None
    exact_p: float | None = None
    note: str | None = None


class FindingOut(BaseModel):
    field: str
    severity: str
    message: str
    task: str | None = None
    base: Any = None
    tuned: Any = None


class ParityOut(BaseModel):
    ok: bool
    valid: bool
    findings: list[FindingOut]


class WarningOut(BaseModel):
    code: str
    message: str
    task: str | None = None


class PairOut(BaseModel):
    base: str
    tuned: str
    alpha: float
    margin: float
    rows: list[RowOut]
    counts: dict[str, int]
    gate_failed: bool
    parity: ParityOut
    warnings: list[WarningOut]


class BenchmarkComparisonOut(BaseModel):
    id: str
    run_id: str | None
    arms: list[str]
    comparisons: list[PairOut]
    gate_failed: bool
    options: dict[str, Any]
    created_at: str


class AttachIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    run_id: str = Field(min_length=1)


def _out(row: BenchmarkComparisonRow) -> dict[str, Any]:
    created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=timezone.utc)  # SQLite drops tz
    return {"id": row.id, "run_id": row.run_id, "arms": row.arms, "comparisons": row.report["comparisons"],
            "gate_failed": row.report["gate_failed"], "options": row.options, "created_at": created.isoformat()}


def _arm_files(arm: ArmIn, field: str) -> dict[str, bytes]:
    return {name: (content if isinstance(content, str) else json.dumps(content)).encode("utf-8")
            for name, content in arm.files.items()}


def _label(given: str | None, default: str) -> str:
    return given or default


def _run(body: ComparisonIn, arms: list[tuple[str, dict[str, bytes], str]]) -> dict[str, Any]:
    """Read every arm, compare base with each other arm, refuse what cannot be valid."""
    runs = [read_arm(label, files, field=field) for label, files, field in arms]
    base = runs[0]
    comparisons = []
    for other, (_, _, field) in zip(runs[1:], arms[1:]):
        result = compare(base, other, tasks=body.tasks, margin=body.margin, alpha=body.alpha, seed=body.seed,
                         n_resamples=body.n_resamples)
        bad = [f for f in result.parity.findings if f.severity == "error" or (body.strict and f.severity == "mismatch")]
        if bad:
            raise InvalidInput(f"{base.label} vs {other.label} cannot be compared: "
                               + "; ".join(f"{f.field}: {f.message}" for f in bad[:5]), field=field)
        comparisons.append(result.to_dict())
    return {"comparisons": comparisons, "gate_failed": any(c["gate_failed"] for c in comparisons)}


async def _parse(request: Request) -> tuple[ComparisonIn, list[tuple[str, dict[str, bytes], str]]]:
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        form = await request.form()
        options: dict[str, Any] = {}
        raw = form.get("options")
        if isinstance(raw, str) and raw.strip():
            try:
                options = untrusted.loads(raw, field="options")
            except json.JSONDecodeError as e:
                raise InvalidInput(f"'options' is not JSON ({e})", field="options") from None
        if not isinstance(options, dict):
            raise InvalidInput("'options' must be a JSON object (tasks, margin, alpha, run_id, labels ...)",
                               field="options")
        labels = options.pop("labels", None) or {}
        if not isinstance(labels, dict):
            raise InvalidInput("'options.labels' must map base/tuned/checkpoint_<i> to names", field="options.labels")
        arms: list[tuple[str, dict[str, bytes], str]] = []
        for name in ("base", "tuned"):
            uploads = [u for u in form.getlist(name) if not isinstance(u, str)]
            if not uploads:
                raise InvalidInput(f"multipart field '{name}' is missing: attach its results file(s) or a zip",
                                   field=name)
            arms.append((labels.get(name) or name, {u.filename or f"{name}.json": await u.read() for u in uploads}, name))
        for i, u in enumerate([u for u in form.getlist("checkpoint") if not isinstance(u, str)], 1):
            arms.append((labels.get(f"checkpoint_{i}") or (u.filename or f"checkpoint-{i}").rsplit(".", 1)[0],
                         {u.filename or f"checkpoint-{i}.json": await u.read()}, f"checkpoint[{i - 1}]"))
        stub = {"label": "x", "files": {"x": ""}}
        try:
            body = ComparisonIn.model_validate({**options, "base": stub, "tuned": stub})
        except ValidationError as e:
            first = e.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            raise InvalidInput(f"options.{field}: {first['msg']}", field=f"options.{field}") from None
        if len(arms) > MAX_ARMS + 2:
            raise InvalidInput(f"{len(arms) - 2} checkpoints; the limit is {MAX_ARMS}", field="checkpoint")
        return body, arms
    try:
        payload = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InvalidInput(f"the body is not JSON ({e}); send JSON or multipart/form-data", field="body") from None
    try:
        body = ComparisonIn.model_validate(payload)
    except ValidationError as e:
        first = e.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "body"
        raise InvalidInput(f"{field}: {first['msg']}", field=field) from None
    arms = [(_label(body.base.label, "base"), _arm_files(body.base, "base"), "base"),
            (_label(body.tuned.label, "tuned"), _arm_files(body.tuned, "tuned"), "tuned")]
    arms += [(_label(c.label, f"checkpoint-{i + 1}"), _arm_files(c, f"checkpoints[{i}]"), f"checkpoints[{i}]")
             for i, c in enumerate(body.checkpoints)]
    return body, arms


def _check_run(s: Session, run_id: str | None, field: str = "run_id") -> None:
    if run_id is not None and s.get(RunRow, run_id) is None:
        raise NotFound(f"no judge run with id '{run_id}'", field=field)


@router.post("/benchmark-comparisons", status_code=201, response_model=BenchmarkComparisonOut, responses=ERRORS,
             openapi_extra={"requestBody": {"content": {
                 "application/json": {"schema": ComparisonIn.model_json_schema()},
                 "multipart/form-data": {"schema": {"type": "object", "properties": {
                     "base": {"type": "array", "items": {"type": "string", "format": "binary"}},
                     "tuned": {"type": "array", "items": {"type": "string", "format": "binary"}},
                     "checkpoint": {"type": "array", "items": {"type": "string", "format": "binary"}},
                     "options": {"type": "string", "description": "JSON: tasks, margin, alpha, run_id, labels ..."}},
                     "required": ["base", "tuned"]}}}, "required": True}})
async def create_benchmark_comparison(request: Request, ctx: AppContext = Depends(get_ctx)) -> dict[str, Any]:
    body, arms = await _parse(request)
    if body.run_id is not None:
        await ctx.db.run(lambda s: _check_run(s, body.run_id))
    report = await asyncio.to_thread(_run, body, arms)
    options = body.model_dump(exclude={"base", "tuned", "checkpoints"})

    def store(s: Session) -> dict[str, Any]:
        row = BenchmarkComparisonRow(id=new_id("bc"), run_id=body.run_id, arms=[a[0] for a in arms], options=options,
                                     report=report)
        s.add(row)
        s.flush()
        return _out(row)

    return await ctx.db.run(store)


@router.get("/benchmark-comparisons", response_model=list[BenchmarkComparisonOut], responses=ERRORS)
async def list_benchmark_comparisons(run_id: str | None = Query(None), limit: int = Query(50, ge=1, le=500),
                                     ctx: AppContext = Depends(get_ctx)) -> list[dict[str, Any]]:
    def work(s: Session) -> list[dict[str, Any]]:
        q = select(BenchmarkComparisonRow).order_by(BenchmarkComparisonRow.created_at.desc()).limit(limit)
        if run_id is not None:
            q = q.where(BenchmarkComparisonRow.run_id == run_id)
        return [_out(r) for r in s.scalars(q)]

    return await ctx.db.run(work)


@router.get("/benchmark-comparisons/{id}", response_model=BenchmarkComparisonOut, responses=ERRORS)
async def get_benchmark_comparison(id: str, ctx: AppContext = Depends(get_ctx)) -> dict[str, Any]:
    def work(s: Session) -> dict[str, Any]:
        row = s.get(BenchmarkComparisonRow, id)
        if row is None:
            raise NotFound(f"no benchmark comparison with id '{id}'", field="id")
        return _out(row)

    return await ctx.db.run(work)


@router.post("/benchmark-comparisons/{id}/attach", response_model=BenchmarkComparisonOut, responses=ERRORS)
async def attach_benchmark_comparison(id: str, body: AttachIn, ctx: AppContext = Depends(get_ctx)) -> dict[str, Any]:
    """Attach a stored comparison to a base-vs-tuned judge run, so both are found together."""
    def work(s: Session) -> dict[str, Any]:
        row = s.get(BenchmarkComparisonRow, id)
        if row is None:
            raise NotFound(f"no benchmark comparison with id '{id}'", field="id")
        _check_run(s, body.run_id)
        row.run_id = body.run_id
        s.flush()
        return _out(row)

    return await ctx.db.run(work)


@router.get("/runs/{id}/benchmark-comparisons", response_model=list[BenchmarkComparisonOut], responses=ERRORS)
async def run_benchmark_comparisons(id: str, ctx: AppContext = Depends(get_ctx)) -> list[dict[str, Any]]:
    def work(s: Session) -> list[dict[str, Any]]:
        _check_run(s, id, field="id")
        q = select(BenchmarkComparisonRow).where(BenchmarkComparisonRow.run_id == id) \
            .order_by(BenchmarkComparisonRow.created_at)
        return [_out(r) for r in s.scalars(q)]

    return await ctx.db.run(work)
