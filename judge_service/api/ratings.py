"""Human rating sets and calibrations: POST /v1/rating-sets, POST/GET /v1/calibrations."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, File, Form, Response, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from judge_service.api.deps import get_ctx, resolve_judges
from judge_service.api.verdicts import new_id, rubric_ref
from judge_service.context import AppContext
from judge_service.errors import InvalidInput, NotFound
from judge_service.ratings import calibration
from judge_service.ratings.sets import RatingSetCreate, canonical, parse_upload, set_hash, validate_set
from judge_service.schemas import ErrorBody
from judge_service.store.models import CalibrationRow, RatingSetRow

router = APIRouter(prefix="/v1", tags=["calibration"])
ERRORS = {s: {"model": ErrorBody} for s in (404, 409, 413, 422)}


class RatingSetOut(BaseModel):
    id: str
    name: str
    kind: str
    rubric: str | None
    hash: str
    n_items: int
    raters: list[str]
    created_at: str


class CalibrationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rating_set: str = Field(min_length=1)
    rubric: str | None = Field(default=None, description="default: the rating set's rubric")
    judges: list[str] | None = Field(default=None, min_length=1)
    samples: int = Field(default=1, ge=1, le=16)
    folds: int = Field(default=5, ge=2, le=20)


def install(ctx: AppContext) -> None:
    tasks: dict[str, asyncio.Task] = {}
    ctx.extras["calibration_tasks"] = tasks
    ctx.extras["apply_calibration"] = calibration.apply_calibration

    async def resume(c: AppContext) -> None:
        with c.db.session() as s:
            ids = [r.id for r in s.query(CalibrationRow).filter_by(status="running")]
        for cal_id in ids:
            tasks[cal_id] = asyncio.create_task(calibration.execute(c, cal_id))

    async def stop(c: AppContext) -> None:
        for t in tasks.values():
            t.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)

    ctx.extras.setdefault("on_startup", []).append(resume)
    ctx.extras.setdefault("on_shutdown", []).append(stop)


def _set_out(row: RatingSetRow) -> dict:
    raters = sorted({r for it in row.content["items"] for r in it["ratings"]})
    return {"id": row.id, "name": row.name, "kind": row.kind, "rubric": row.rubric, "hash": row.hash,
            "n_items": len(row.content["items"]), "raters": raters, "created_at": row.created_at.isoformat()}


def _store_set(ctx: AppContext, body: RatingSetCreate, response: Response) -> dict:
    validate_set(body)
    if body.rubric is not None:
        ctx.rubrics.resolve(body.rubric)
    data = canonical(body)
    h = set_hash(data)
    set_id = f"rs_{h[:20]}"
    with ctx.db.session() as s:
        row = s.get(RatingSetRow, set_id)
        if row is None:
            row = RatingSetRow(id=set_id, name=body.name, kind=body.kind, rubric=body.rubric, hash=h, content=data)
            s.add(row)
            s.flush()
            response.status_code = 201
        return _set_out(row)


@router.post("/rating-sets", response_model=RatingSetOut, responses=ERRORS)
async def create_rating_set(body: RatingSetCreate, response: Response, ctx: AppContext = Depends(get_ctx)) -> dict:
    return _store_set(ctx, body, response)


@router.post("/rating-sets/upload", response_model=RatingSetOut, responses=ERRORS)
async def upload_rating_set(response: Response, file: UploadFile = File(..., description="JSON, JSONL or CSV"),
                            name: str = Form(...), kind: str = Form("ordinal"), rubric: str | None = Form(None),
                            ctx: AppContext = Depends(get_ctx)) -> dict:
    if kind not in ("ordinal", "interval", "pairwise"):
        raise InvalidInput(f"kind must be ordinal, interval or pairwise, got '{kind}'", field="kind")
    data = await file.read()
    return _store_set(ctx, parse_upload(data, file.filename or "ratings.jsonl", name=name, kind=kind, rubric=rubric), response)


@router.get("/rating-sets/{id}", response_model=RatingSetOut, responses=ERRORS)
async def get_rating_set(id: str, ctx: AppContext = Depends(get_ctx)) -> dict:
    with ctx.db.session() as s:
        row = s.get(RatingSetRow, id)
        if row is None:
            raise NotFound(f"no rating set with id '{id}'", field="id")
        return _set_out(row)


@router.post("/calibrations", status_code=202, responses=ERRORS)
async def create_calibration(body: CalibrationCreate, ctx: AppContext = Depends(get_ctx)) -> dict:
    with ctx.db.session() as s:
        rs = s.get(RatingSetRow, body.rating_set)
        if rs is None:
            raise NotFound(f"no rating set with id '{body.rating_set}'", field="rating_set")
        kind, set_rubric, n_items = rs.kind, rs.rubric, len(rs.content["items"])
    rubric_name = body.rubric or set_rubric
    if rubric_name is None:
        raise InvalidInput("the rating set names no rubric: send 'rubric'", field="rubric")
    rubric = ctx.rubrics.resolve(rubric_name, mode="pairwise" if kind == "pairwise" else "absolute")
    if n_items < 2 * body.folds:
        raise InvalidInput(f"a {body.folds}-fold calibration needs at least {2 * body.folds} rated items; the set has {n_items}",
                           field="folds")
    judges = resolve_judges(ctx, body.judges)
    ctx.rubrics.mark_used(rubric)
    cal_id = new_id("cal")
    spec = {"rubric": rubric_ref(rubric), "judges": [j.name for j in judges], "samples": body.samples, "folds": body.folds,
            "judge_models": {j.name: j.spec.model for j in judges}}
    with ctx.db.session() as s:
        s.add(CalibrationRow(id=cal_id, status="running", rating_set_id=body.rating_set, spec=spec))
    ctx.extras["calibration_tasks"][cal_id] = asyncio.create_task(calibration.execute(ctx, cal_id))
    return {"id": cal_id, "status": "running"}


@router.get("/calibrations/{id}", responses=ERRORS)
async def get_calibration(id: str, ctx: AppContext = Depends(get_ctx)) -> dict:
    with ctx.db.session() as s:
        row = s.get(CalibrationRow, id)
        if row is None:
            raise NotFound(f"no calibration with id '{id}'", field="id")
        return {"id": row.id, "status": row.status, "rating_set": row.rating_set_id, "rubric": row.spec["rubric"],
                "judges": row.spec["judges"], "judge_models": row.spec.get("judge_models", {}), "folds": row.spec["folds"],
                "mapping": row.mapping, "report": row.report, "error": row.error, "created_at": row.created_at.isoformat()}
