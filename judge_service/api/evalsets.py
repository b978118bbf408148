"""/v1/eval-sets: versioned eval sets (prompts, references, held-out texts) by name and content hash.

POST saves content: new content gets the next version, content already stored returns its version
(200, ``created: false``), so scripts can save on every run without minting versions. GET lists,
reads a version, and diffs two versions item by item (ids added, removed, changed).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from judge_service.api.deps import get_ctx
from judge_service.context import AppContext
from judge_service.errors import InvalidInput
from judge_service.evalsets import store
from judge_service.evalsets.content import diff
from judge_service.schemas import ErrorBody, Message

router = APIRouter(prefix="/v1/eval-sets", tags=["eval-sets"])
ERRORS: dict[int | str, dict[str, Any]] = {s: {"model": ErrorBody} for s in (404, 409, 413, 422)}
NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"


class EvalSetItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=200)
    prompt: str | None = Field(default=None, description="a single-turn prompt (or messages)")
    messages: list[Message] | None = Field(default=None, min_length=1)
    reference: str | list[str] | None = Field(default=None, description="reference answer(s), for task metrics")
    text: str | None = Field(default=None, description="a held-out text, for perplexity")
    metadata: dict[str, Any] = Field(default_factory=dict)


class EvalSetCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME, description="letters, digits, '.', '_' and '-'")
    items: list[EvalSetItem] = Field(min_length=1, description="bounded by JUDGE_MAX_BODY_BYTES")
    note: str | None = Field(default=None, max_length=10_000, description="the changelog entry for this version")


class EvalSetVersionOut(BaseModel):
    name: str
    version: int
    content_hash: str = Field(description="sha256 over the items' canonical hashes, in id order")
    n_items: int
    note: str | None
    created_at: datetime
    created: bool | None = Field(default=None, description="on save: false when this content was already stored")
    changes: str | None = Field(default=None, description="on save: what changed since the previous version")


class EvalSetVersionWithItems(EvalSetVersionOut):
    items: list[dict[str, Any]]


class EvalSetSummary(BaseModel):
    name: str
    latest_version: int
    n_items: int


class EvalSetHistory(BaseModel):
    name: str
    versions: list[EvalSetVersionOut]


class EvalSetDiff(BaseModel):
    name: str
    from_version: int
    to_version: int
    identical: bool
    added: list[str]
    removed: list[str]
    changed: list[str]
    unchanged: int
    summary: str


def _out(row: store.EvalSetVersionRow, **extra: Any) -> EvalSetVersionOut:
    created_at = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=timezone.utc)  # SQLite drops it
    return EvalSetVersionOut(name=row.name, version=row.version, content_hash=row.content_hash, n_items=row.n_items,
                             note=row.note, created_at=created_at, **extra)


def _items(body: EvalSetCreate) -> list[dict[str, Any]]:
    seen: set[str] = set()
    for i, item in enumerate(body.items):
        if item.id in seen:
            raise InvalidInput(f"item id '{item.id}' appears twice; ids identify items across versions",
                               field=f"items.{i}.id")
        seen.add(item.id)
        if item.prompt is None and item.messages is None and item.text is None:
            raise InvalidInput(f"item '{item.id}' has none of prompt, messages or text", field=f"items.{i}")
        if item.prompt is not None and item.messages is not None:
            raise InvalidInput(f"item '{item.id}': give prompt or messages, not both", field=f"items.{i}.messages")
    return [item.model_dump(exclude_none=True, exclude_defaults=True) | {"id": item.id} for item in body.items]


@router.post("", response_model=EvalSetVersionOut, status_code=201,
             responses={**ERRORS, 200: {"model": EvalSetVersionOut, "description": "this content is already stored"}})
async def save_eval_set(body: EvalSetCreate, response: Response,
                        ctx: AppContext = Depends(get_ctx)) -> EvalSetVersionOut:
    items = _items(body)

    def work(session: store.Session) -> EvalSetVersionOut:
        saved = store.save(session, body.name, items, body.note)
        if not saved.created:
            return _out(saved.row, created=False, changes="identical to this stored version")
        previous = [r for r in store.versions(session, body.name) if r.version < saved.row.version]
        changes = diff(previous[-1].item_hashes, saved.row.item_hashes).summary() if previous else "first version"
        return _out(saved.row, created=True, changes=changes)

    out = await ctx.db.run(work)
    if not out.created:
        response.status_code = 200
    return out


@router.get("", response_model=list[EvalSetSummary], responses=ERRORS)
async def list_eval_sets(ctx: AppContext = Depends(get_ctx)) -> list[EvalSetSummary]:
    rows = await ctx.db.run(store.names)
    return [EvalSetSummary(name=n, latest_version=v, n_items=k) for n, v, k in rows]


@router.get("/{name}", response_model=EvalSetHistory, responses=ERRORS)
async def eval_set_history(name: str, ctx: AppContext = Depends(get_ctx)) -> EvalSetHistory:
    rows = await ctx.db.run(lambda s: store.versions(s, name))
    return EvalSetHistory(name=name, versions=[_out(r) for r in rows])


@router.get("/{name}/diff", response_model=EvalSetDiff, responses=ERRORS)
async def eval_set_diff(name: str, from_version: int = Query(alias="from", ge=1),
                        to_version: int | None = Query(default=None, alias="to", ge=1, description="default: latest"),
                        ctx: AppContext = Depends(get_ctx)) -> EvalSetDiff:
    old, new = await ctx.db.run(lambda s: (store.get(s, name, from_version), store.get(s, name, to_version)))
    d = diff(old.item_hashes, new.item_hashes)
    return EvalSetDiff(name=name, from_version=old.version, to_version=new.version, identical=d.identical,
                       added=d.added, removed=d.removed, changed=d.changed, unchanged=d.unchanged, summary=d.summary())


@router.get("/{name}/versions/{version}", response_model=EvalSetVersionWithItems, responses=ERRORS)
async def get_eval_set_version(name: str, version: int, ctx: AppContext = Depends(get_ctx)) -> EvalSetVersionWithItems:
    row = await ctx.db.run(lambda s: store.get(s, name, version))
    return EvalSetVersionWithItems(**_out(row).model_dump(), items=row.items)
