"""POST/GET /v1/judgments (absolute grading) and /v1/comparisons (pairwise, both orders)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from judge_service.api.deps import check_samples, check_text_limits, get_ctx, resolve_judges
from judge_service.api.verdicts import comparison_body, grade_body, new_id, store_verdict
from judge_service.context import AppContext
from judge_service.engine.call import CallOwner
from judge_service.engine.compare import compare
from judge_service.engine.flags import detect_flags
from judge_service.engine.grade import Conversation, Sampling, grade
from judge_service.errors import InvalidInput, NotFound
from judge_service.rubrics.model import Rubric
from judge_service.schemas import ComparisonRequest, ComparisonResponse, ErrorBody, JudgmentRequest, JudgmentResponse
from judge_service.store.models import JudgmentRow

router = APIRouter(prefix="/v1", tags=["judging"])
ERRORS = {s: {"model": ErrorBody} for s in (404, 409, 413, 422, 502)}


def _prepare(ctx: AppContext, body: JudgmentRequest | ComparisonRequest, mode: str, texts: dict) -> tuple[Rubric, list]:
    body.check_conversation()
    check_text_limits(ctx, prompt=body.prompt, reference=body.reference, **texts)
    for i, m in enumerate(body.messages or []):
        check_text_limits(ctx, **{f"messages.{i}.content": m.content})
    check_samples(ctx, body.samples)
    rubric = ctx.rubrics.resolve(body.rubric, mode=mode)
    if rubric.requires_reference and not body.reference:
        raise InvalidInput(f"rubric {rubric.ref} is reference-guided: send 'reference'", field="reference")
    judges = resolve_judges(ctx, body.judges)
    ctx.rubrics.mark_used(rubric)
    return rubric, judges


@router.post("/judgments", response_model=JudgmentResponse, responses=ERRORS)
async def create_judgment(body: JudgmentRequest, ctx: AppContext = Depends(get_ctx)) -> dict:
    rubric, judges = _prepare(ctx, body, "absolute", {"response": body.response})
    id_ = new_id("jdg")
    result = await grade(ctx.caller, rubric, judges, Conversation(body.conversation(), body.reference), body.response,
                         sampling=Sampling(body.samples, body.temperature, body.seed),
                         owner=CallOwner("judgment", id_))
    out = grade_body(id_, rubric, result)
    out["flags"] = detect_flags(body.response)
    apply_calibration = ctx.extras.get("apply_calibration")
    if body.calibration is not None:
        if apply_calibration is None:
            raise NotFound(f"unknown calibration '{body.calibration}'", field="calibration")
        apply_calibration(ctx, body.calibration, rubric, out)
    store_verdict(ctx, "judgment", rubric, body.model_dump(mode="json"), out)
    return out


@router.post("/comparisons", response_model=ComparisonResponse, responses=ERRORS)
async def create_comparison(body: ComparisonRequest, ctx: AppContext = Depends(get_ctx)) -> dict:
    rubric, judges = _prepare(ctx, body, "pairwise", {"response_a": body.response_a, "response_b": body.response_b})
    id_ = new_id("cmp")
    result = await compare(ctx.caller, rubric, judges, Conversation(body.conversation(), body.reference),
                           body.response_a, body.response_b,
                           sampling=Sampling(body.samples, body.temperature, body.seed),
                           owner=CallOwner("comparison", id_))
    out = comparison_body(id_, rubric, result)
    out["flags"] = detect_flags(body.response_a, body.response_b)
    store_verdict(ctx, "comparison", rubric, body.model_dump(mode="json"), out)
    return out


def _stored(ctx: AppContext, id_: str, kind: str) -> dict:
    with ctx.db.session() as s:
        row = s.get(JudgmentRow, id_)
        if row is None or row.kind != kind:
            raise NotFound(f"no {kind} with id '{id_}'", field="id")
        return row.result


@router.get("/judgments/{id}", response_model=JudgmentResponse, responses=ERRORS)
async def get_judgment(id: str, ctx: AppContext = Depends(get_ctx)) -> dict:
    return _stored(ctx, id, "judgment")


@router.get("/comparisons/{id}", response_model=ComparisonResponse, responses=ERRORS)
async def get_comparison(id: str, ctx: AppContext = Depends(get_ctx)) -> dict:
    return _stored(ctx, id, "comparison")
