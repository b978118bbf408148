"""Human rating sets and calibrations: POST /v1/rating-sets, POST/GET /v1/calibrations."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, File, Form, Response, UploadFile
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from judge_service.api.deps import get_ctx
from judge_service.context import AppContext
from judge_service.errors import InvalidInput, NotFound
from judge_service.engine.verdicts import Prepared, new_id, rubric_ref
from judge_service.ratings.sets import RatingSetCreate, canonical, parse_upload, set_hash, validate_set
from judge_service.schemas import ErrorBody, RubricRef
from judge_service.store.models import CalibrationRow, RatingSetRow

router = APIRouter(prefix="/v1", tags=["calibration"])
ERRORS: dict[int | str, dict[str, Any]] = {s: {"model": ErrorBody} for s in (404, 409, 413, 422)}


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


class CalibrationAccepted(BaseModel):
    id: str
    status: str


class CalibrationOut(BaseModel):
    id: str
    status: Literal["running", "done", "failed"]
    rating_set: str
    rubric: RubricRef
    judges: list[str]
    judge_models: dict[str, str]
    folds: int
    mapping: dict[str, Any] | None = Field(description="the fitted map: isotonic (score → human scale) or tie_threshold")
    report: dict[str, Any] | None = Field(description="agreement before/after, the human ceiling, fold figures")
    error: str | None
    created_at: str


def _set_out(row: RatingSetRow) -> RatingSetOut:
    raters = sorted({r for it in row.content["items"] for r in it["ratings"]})
    return RatingSetOut(id=row.id, name=row.name, kind=row.kind, rubric=row.rubric, hash=row.hash,
                        n_items=len(row.content["items"]), raters=raters, created_at=row.created_at.isoformat())


async def _store_set(ctx: AppContext, body: RatingSetCreate, response: Response) -> RatingSetOut:
    validate_set(body)
    if body.rubric is not None:
        await ctx.verdicts.rubric(body.rubric)
    data = canonical(body)
    h = set_hash(data)
    set_id = f"rs_{h[:20]}"

    def store(s: Session) -> tuple[RatingSetOut, bool]:
        row = s.get(RatingSetRow, set_id)
        if row is not None:
            return _set_out(row), False
        row = RatingSetRow(id=set_id, name=body.name, kind=body.kind, rubric=body.rubric, hash=h, content=data)
        s.add(row)
        s.flush()
        return _set_out(row), True

    out, created = await ctx.db.run(store)
    if created:
        response.status_code = 201
    return out


@router.post("/rating-sets", response_model=RatingSetOut, responses=ERRORS)
async def create_rating_set(body: RatingSetCreate, response: Response, ctx: AppContext = Depends(get_ctx)) -> RatingSetOut:
    return await _store_set(ctx, body, response)


@router.post("/rating-sets/upload", response_model=RatingSetOut, responses=ERRORS)
async def upload_rating_set(response: Response, file: UploadFile = File(..., description="JSON, JSONL or CSV"),
                            name: str = Form(...), kind: str = Form("ordinal"), rubric: str | None = Form(None),
                            ctx: AppContext = Depends(get_ctx)) -> RatingSetOut:
    if kind not in ("ordinal", "interval", "pairwise"):
        raise InvalidInput(f"kind must be ordinal, interval or pairwise, got '{kind}'", field="kind")
    data = await file.read()
    return await _store_set(ctx, parse_upload(data, file.filename or "ratings.jsonl", name=name, kind=kind, rubric=rubric),
                            response)


@router.get("/rating-sets/{id}", response_model=RatingSetOut, responses=ERRORS)
async def get_rating_set(id: str, ctx: AppContext = Depends(get_ctx)) -> RatingSetOut:
    def read(s: Session) -> RatingSetOut:
        row = s.get(RatingSetRow, id)
        if row is None:
            raise NotFound(f"no rating set with id '{id}'", field="id")
        return _set_out(row)

    return await ctx.db.run(read)


@router.post("/calibrations", status_code=202, response_model=CalibrationAccepted, responses=ERRORS)
async def create_calibration(body: CalibrationCreate, ctx: AppContext = Depends(get_ctx)) -> CalibrationAccepted:
    def read(s: Session) -> tuple[str, str | None, int]:
        rs = s.get(RatingSetRow, body.rating_set)
        if rs is None:
            raise NotFound(f"no rating set with id '{body.rating_set}'", field="rating_set")
        return rs.kind, rs.rubric, len(rs.content["items"])

    kind, set_rubric, n_items = await ctx.db.run(read)
    rubric_name = body.rubric or set_rubric
    if rubric_name is None:
        raise InvalidInput("the rating set names no rubric: send 'rubric'", field="rubric")

    async def enough_items(_: Prepared) -> None:
        if n_items < 2 * body.folds:
            raise InvalidInput(f"a {body.folds}-fold calibration needs at least {2 * body.folds} rated items; "
                               f"the set has {n_items}", field="folds")

    prepared = await ctx.verdicts.prepare(rubric_name, mode="pairwise" if kind == "pairwise" else "absolute",
                                          judges=body.judges, samples=body.samples, check=enough_items)
    cal_id = new_id("cal")
    spec = {"rubric": rubric_ref(prepared.rubric), "judges": prepared.judge_names, "samples": body.samples,
            "folds": body.folds, "judge_models": {j.name: j.spec.model for j in prepared.judges}}
    await ctx.db.run(lambda s: s.add(CalibrationRow(id=cal_id, status="running", rating_set_id=body.rating_set,
                                                    spec=spec)))
    ctx.calibrations.start(cal_id)
    return CalibrationAccepted(id=cal_id, status="running")


@router.get("/calibrations/{id}", response_model=CalibrationOut, responses=ERRORS)
async def get_calibration(id: str, ctx: AppContext = Depends(get_ctx)) -> CalibrationOut:
    def read(s: Session) -> CalibrationOut:
        row = s.get(CalibrationRow, id)
        if row is None:
            raise NotFound(f"no calibration with id '{id}'", field="id")
        return CalibrationOut(
            id=row.id, status=row.status, rating_set=row.rating_set_id, rubric=row.spec["rubric"],
            judges=row.spec["judges"], judge_models=row.spec.get("judge_models", {}), folds=row.spec["folds"],
            mapping=row.mapping, report=row.report, error=row.error, created_at=row.created_at.isoformat())

    return await ctx.db.run(read)
