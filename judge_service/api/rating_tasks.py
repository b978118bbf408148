"""Blind human rating over HTTP: the owner's /v1/rating-tasks and the rater's /rater-api/{token}.

The owner's routes live under /v1, so API keys apply as everywhere (creating a task or its rating
set is a POST: a write key). The rater's routes live outside /v1 on purpose: the rater has no API
key, and the token in the path is the credential. It reaches one task only, shows no system names,
no judge verdicts and no other rater's votes, and accepts votes on that task's items only.
"""

from __future__ import annotations

import asyncio

from typing import Any, Literal

from sqlalchemy.orm import Session
from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field

from judge_service.api.deps import get_ctx
from judge_service.api.ratings import RatingSetOut, _store_set
from judge_service.context import AppContext
from judge_service.engine.histories import own_conversation
from judge_service.errors import InvalidInput, NotFound
from judge_service.ratings.sets import RatingSetCreate
from judge_service.schemas import ErrorBody
from judge_service.store.models import RunItemRow, RunRow
from judge_service.ui import rating

router = APIRouter(prefix="/v1/rating-tasks", tags=["human rating"])
rater_router = APIRouter(prefix="/rater-api", tags=["human rating"])
ERRORS: dict[int | str, dict[str, Any]] = {s: {"model": ErrorBody} for s in (401, 403, 404, 409, 422)}


class RatingTaskCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_id: str = Field(min_length=1)
    raters: list[str] = Field(min_length=1, max_length=50, description="one name per rater; each gets a token")
    name: str | None = Field(default=None, max_length=200)
    n_items: int | None = Field(default=None, ge=1, le=5000, description="rate the run's first n items (default: all)")
    mode: Literal["pairwise", "absolute"] = Field(
        default="pairwise", description="pairwise: which of two outputs is better; absolute: each output alone, "
                                        "scored on the run rubric's anchored scale")


class RaterLink(BaseModel):
    rater: str
    token: str  # shown once, only in this answer
    link: str


class RatingTaskCreated(BaseModel):
    id: str
    run_id: str
    mode: str
    n_items: int
    raters: list[RaterLink]


class RaterProgress(BaseModel):
    rater: str
    rated: int


class RatingTaskOut(BaseModel):
    id: str
    name: str
    run_id: str
    mode: str
    n_items: int
    n_units: int = Field(description="what each rater rates: n_items pairs, or 2 × n_items outputs (absolute)")
    raters: list[RaterProgress]
    agreement: dict[str, Any]
    rating_set_id: str | None
    created_at: str


class RaterPair(BaseModel):
    item_id: str
    conversation: list[tuple[str, str]]
    left: str
    right: str
    # Multi-turn items whose systems answered the earlier turns themselves: each side's own earlier
    # answers (engine/histories.py), shown with that side's response so the rater reads its conversation.
    left_history: list[str] = []
    right_history: list[str] = []
    vote: str | None  # this rater's own earlier vote, as shown (left/right/tie)


class RaterUnit(BaseModel):
    unit_id: str  # what a vote names as item_id
    conversation: list[tuple[str, str]]
    response: str
    score: str | None  # this rater's own earlier score


class RaterPage(BaseModel):
    task: str
    rater: str
    mode: str
    rubric: str
    criteria: list[dict[str, Any]]
    scale: list[int] = Field(description="absolute tasks: the scores to choose from (the rubric's anchored scale)")
    pairs: list[RaterPair]
    units: list[RaterUnit] = Field(description="absolute tasks: one output at a time, in this rater's random order")


class VoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_id: str = Field(min_length=1)
    vote: str = Field(description="left, right or tie: the rater's choice as shown on screen; "
                                  "absolute tasks: the score (one of the page's scale)")


class VoteOut(BaseModel):
    item_id: str
    rated: int
    total: int


def _scale(ctx: AppContext, run_id: str) -> list[int]:
    """The scale humans score on in an absolute task: the run rubric's, shared by all its criteria."""
    with ctx.db.session() as s:
        run = s.get(RunRow, run_id)
    if run is None:
        raise NotFound(f"no run with id '{run_id}'", field="run_id")
    _, criteria = _criteria(ctx, f"{run.spec['rubric']['name']}@{run.spec['rubric']['version']}")
    scales = {tuple(sorted(int(k) for k in c["anchors"])) for c in criteria}
    if len(scales) != 1:
        raise InvalidInput("the run's rubric has criteria on different scales; rate this run pairwise", field="mode")
    return list(scales.pop())


@router.post("", status_code=201, response_model=RatingTaskCreated, responses=ERRORS)
def create_rating_task(body: RatingTaskCreate, ctx: AppContext = Depends(get_ctx)) -> dict[str, Any]:
    mode = rating.Mode("absolute", _scale(ctx, body.run_id)) if body.mode == "absolute" else rating.Mode("pairwise", [])
    task_id, tokens = rating.create_task(ctx.db, body.run_id, body.raters, name=body.name, n_items=body.n_items, mode=mode)
    task = rating.get_task(ctx.db, task_id)
    return {"id": task_id, "run_id": body.run_id, "mode": mode.mode, "n_items": len(task.item_ids),
            "raters": [{"rater": r, "token": t, "link": f"/ui/rate.html#token={t}"} for r, t in tokens.items()]}


@router.get("", response_model=list[RatingTaskOut], responses=ERRORS)
def list_rating_tasks(run_id: str | None = None, ctx: AppContext = Depends(get_ctx)) -> list[dict[str, Any]]:
    """Every rating task (of one run with ``run_id``), newest first, with progress and agreement."""
    return [get_rating_task(t, ctx) for t in rating.task_ids(ctx.db, run_id)]


@router.get("/{id}", response_model=RatingTaskOut, responses=ERRORS)
def get_rating_task(id: str, ctx: AppContext = Depends(get_ctx)) -> dict[str, Any]:
    task = rating.get_task(ctx.db, id)
    mode = rating.task_mode(ctx.db, id)
    names = rating.rater_names(ctx.db, id)
    cast = rating.votes(ctx.db, id)
    return {"id": task.id, "name": task.name, "run_id": task.run_id, "mode": mode.mode, "n_items": len(task.item_ids),
            "n_units": len(mode.units(task.item_ids)),
            "raters": [{"rater": r, "rated": sum(1 for (who, _) in cast if who == r)} for r in names],
            "agreement": rating.agreement(task, names, cast, mode), "rating_set_id": task.rating_set_id,
            "created_at": task.created_at.isoformat()}


@router.post("/{id}/rating-set", response_model=RatingSetOut, responses=ERRORS)
async def make_rating_set(id: str, response: Response, ctx: AppContext = Depends(get_ctx)) -> RatingSetOut:
    """The votes so far as a rating set, stored like an upload: pairwise (A = baseline, B = candidate),
    or ordinal for an absolute task (one item per output, id ``<item>:<system>``)."""
    task = await asyncio.to_thread(rating.get_task, ctx.db, id)
    cast = await asyncio.to_thread(rating.votes, ctx.db, id)

    def read(s: Session) -> tuple[RunRow | None, dict[str, RunItemRow]]:
        return s.get(RunRow, task.run_id), {r.item_id: r for r in s.query(RunItemRow).filter_by(run_id=task.run_id)}

    run, rows = await ctx.db.run(read)
    if run is None:
        raise InvalidInput(f"run '{task.run_id}' of this task no longer exists", field="id")
    spec = run.spec
    mode = await asyncio.to_thread(rating.task_mode, ctx.db, id)
    items = []
    for unit in mode.units(task.item_ids):
        ratings: dict[str, Any] = {who: v for (who, i), v in cast.items() if i == unit}
        if not ratings:
            continue
        item_id, _, side = unit.rpartition("#") if mode.mode == "absolute" else (unit, "", "")
        row = rows[item_id].item
        conv = {"prompt": row["prompt"]} if row.get("prompt") is not None else {"messages": row["messages"]}
        histories = row.get("histories")
        if mode.mode == "absolute":
            system = spec["baseline"] if side == "A" else spec["candidate"]
            if histories:
                conv |= {"history": histories[system]}
            items.append(conv | {"id": f"{item_id}:{system}", "response": row["outputs"][system],
                                 "reference": row.get("reference"), "ratings": {w: float(v) for w, v in ratings.items()}})
        else:
            if histories:
                conv |= {"history_a": histories[spec["baseline"]], "history_b": histories[spec["candidate"]]}
            items.append(conv | {"id": item_id, "response_a": row["outputs"][spec["baseline"]],
                                 "response_b": row["outputs"][spec["candidate"]], "reference": row.get("reference"),
                                 "ratings": ratings})
    if not items:
        raise InvalidInput("no votes yet: share the raters' links first", field="id")
    body = RatingSetCreate.model_validate({"name": task.name, "kind": "ordinal" if mode.mode == "absolute" else "pairwise",
                                           "rubric": f"{spec['rubric']['name']}@{spec['rubric']['version']}", "items": items})
    # The ratings router's own storing path (validation, hashing, dedup), so a set made here is the
    # same set an upload of these votes would make.
    out = await _store_set(ctx, body, response)

    def link(s: Session) -> None:
        row = s.get(rating.RatingTaskRow, id)
        if row is not None:
            row.rating_set_id = out.id

    await ctx.db.run(link)
    return out


def _criteria(ctx: AppContext, ref: str) -> tuple[str, list[dict[str, Any]]]:
    rubric = ctx.rubrics.resolve(ref)
    return rubric.ref, [{"name": c.name, "description": c.description, "anchors": {str(k): v for k, v in c.anchors.items()}}
                        for c in rubric.criteria]


@rater_router.get("/{token}", response_model=RaterPage, responses=ERRORS)
def rater_page(token: str, ctx: AppContext = Depends(get_ctx)) -> dict[str, Any]:
    who = rating.rater_for(ctx.db, token)
    task = rating.get_task(ctx.db, who.task_id)
    mine = rating.votes(ctx.db, task.id, who.name)
    with ctx.db.session() as s:
        run = s.get(RunRow, task.run_id)
        rows = {r.item_id: r.item for r in s.query(RunItemRow).filter_by(run_id=task.run_id)}
    spec = run.spec  # type: ignore[union-attr]
    rubric_ref, criteria = _criteria(ctx, f"{spec['rubric']['name']}@{spec['rubric']['version']}")
    mode = rating.task_mode(ctx.db, task.id)
    page: dict[str, Any] = {"task": task.name, "rater": who.name, "mode": mode.mode, "rubric": rubric_ref, "criteria": criteria,
            "scale": mode.scale, "pairs": [], "units": []}
    if mode.mode == "absolute":
        for unit in rating.rater_order(task.id, who.name, mode.units(task.item_ids)):
            item_id, _, side = unit.rpartition("#")
            item = rows[item_id]
            system = spec["baseline"] if side == "A" else spec["candidate"]
            conversation = item.get("conversation", [])
            if item.get("histories"):
                conversation = own_conversation(conversation, item["histories"][system])
            page["units"].append({"unit_id": unit, "conversation": conversation,
                                  "response": item["outputs"][system],
                                  "score": mine.get((who.name, unit))})
        return page
    pairs = page["pairs"]
    for item_id in rating.rater_order(task.id, who.name, task.item_ids):
        item = rows[item_id]
        base, cand = item["outputs"][spec["baseline"]], item["outputs"][spec["candidate"]]
        left_c = rating.candidate_left(task.id, who.name, item_id)
        histories = item.get("histories") or {}
        base_h, cand_h = histories.get(spec["baseline"], []), histories.get(spec["candidate"], [])
        pairs.append({"item_id": item_id, "conversation": item.get("conversation", []),
                      "left": cand if left_c else base, "right": base if left_c else cand,
                      "left_history": cand_h if left_c else base_h, "right_history": base_h if left_c else cand_h,
                      "vote": rating.shown_vote(task.id, who.name, item_id, mine.get((who.name, item_id)))})
    return page


@rater_router.post("/{token}/votes", response_model=VoteOut, responses=ERRORS)
def rater_vote(token: str, body: VoteIn, ctx: AppContext = Depends(get_ctx)) -> dict[str, Any]:
    who = rating.rater_for(ctx.db, token)
    rating.record_vote(ctx.db, who, body.item_id, body.vote)
    task = rating.get_task(ctx.db, who.task_id)
    total = len(rating.task_mode(ctx.db, task.id).units(task.item_ids))
    return {"item_id": body.item_id, "rated": len(rating.votes(ctx.db, task.id, who.name)), "total": total}
