"""POST/GET /v1/judgments (absolute grading) and /v1/comparisons (pairwise, both orders).

Thin: a verdict's whole life is ``engine/verdicts.py``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from judge_service.api.deps import get_ctx
from judge_service.context import AppContext
from judge_service.schemas import ComparisonRequest, ComparisonResponse, ErrorBody, JudgmentRequest, JudgmentResponse

router = APIRouter(prefix="/v1", tags=["judging"])
ERRORS: dict[int | str, dict[str, Any]] = {s: {"model": ErrorBody} for s in (404, 409, 413, 422, 502)}


@router.post("/judgments", response_model=JudgmentResponse, responses=ERRORS)
async def create_judgment(body: JudgmentRequest, ctx: AppContext = Depends(get_ctx)) -> JudgmentResponse:
    return await ctx.verdicts.judge(body)


@router.post("/comparisons", response_model=ComparisonResponse, responses=ERRORS)
async def create_comparison(body: ComparisonRequest, ctx: AppContext = Depends(get_ctx)) -> ComparisonResponse:
    return await ctx.verdicts.compare(body)


@router.get("/judgments/{id}", response_model=JudgmentResponse, responses=ERRORS)
async def get_judgment(id: str, ctx: AppContext = Depends(get_ctx)) -> JudgmentResponse:
    return await ctx.verdicts.stored_judgment(id)


@router.get("/comparisons/{id}", response_model=ComparisonResponse, responses=ERRORS)
async def get_comparison(id: str, ctx: AppContext = Depends(get_ctx)) -> ComparisonResponse:
    return await ctx.verdicts.stored_comparison(id)
