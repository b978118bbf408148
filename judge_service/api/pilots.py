"""POST /v1/rubrics/{name}/pilot (try a rubric's wordings on a small sample), GET a stored pilot.

Thin: the pilot's work is ``pilot/service.py``, its figures ``pilot/report.py``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from judge_service.api.deps import get_ctx
from judge_service.context import AppContext
from judge_service.pilot.service import run_pilot, stored_pilot
from judge_service.pilot.spec import PilotRequest
from judge_service.schemas import ErrorBody, RubricRef

router = APIRouter(prefix="/v1", tags=["rubrics"])
ERRORS: dict[int | str, dict[str, Any]] = {s: {"model": ErrorBody} for s in (404, 409, 413, 422, 502)}


class PilotVariantOut(BaseModel):
    variant: str
    hash: str
    ref: str
    note: str | None = None


class PilotCost(BaseModel):
    usd: float | None
    by_variant: dict[str, float | None]


class PilotOut(BaseModel):
    """A pilot's report. ``absolute`` / ``pairwise``: per variant (distribution, noise, position
    consistency, agreement with human labels, cost), differences from the first variant with a
    paired CI, Krippendorff's alpha between variants and the wording test."""

    id: str
    rubric: RubricRef
    variants: list[PilotVariantOut]
    judges: list[str]
    samples: int
    temperature: float
    n_items: int
    created_at: str
    wording_sensitive: bool
    most_stable_variant: str | None
    most_discriminating_variant: str | None
    verdict: str
    absolute: dict[str, Any] | None
    pairwise: dict[str, Any] | None
    cost: PilotCost
    warnings: list[str]


@router.post("/rubrics/{name}/pilot", response_model=PilotOut, responses=ERRORS, status_code=201)
async def create_pilot(name: str, body: PilotRequest, ctx: AppContext = Depends(get_ctx)) -> dict[str, Any]:
    return await run_pilot(ctx, name, body)


@router.get("/rubric-pilots/{id}", response_model=PilotOut, responses=ERRORS)
async def get_pilot(id: str, ctx: AppContext = Depends(get_ctx)) -> dict[str, Any]:
    return await stored_pilot(ctx, id)
