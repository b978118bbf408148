"""/v1/eval-sets: versioned eval sets (prompts, references, held-out texts) by name and content hash.

POST saves content: new content gets the next version, content already stored returns its version
(200, ``created: false``), so scripts can save on every run without minting versions. GET lists,
reads a version, and diffs two versions item by item (ids added, removed, changed).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from judge_service.api.deps import get_ctx
from judge_service.context import AppContext
from judge_service.errors import InvalidInput, NotFound
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
    overlap_index_id: str | None = Field(default=None, description="a training-data index (POST /v1/overlap-indexes): "
                                                                   "the items are checked against it on upload")


class EvalSetVersionOut(BaseModel):
    name: str
    version: int
    content_hash: str = Field(description="sha256 over the items' canonical hashes, in id order")
    n_items: int
    note: str | None
    created_at: datetime
    created: bool | None = Field(default=None, description="on save: false when this content was already stored")
    changes: str | None = Field(default=None, description="on save: what changed since the previous version")


class EvalSetContamination(BaseModel):
    report_id: str = Field(description="the stored contamination report: GET /v1/contamination/{id}")
    index_id: str
    n: int
    contaminated: int
    flagged: list[str] = Field(description="ids of the items found in the training data (13-gram, PaLM or MinHash)")
    warning: str | None


class EvalSetSaved(EvalSetVersionOut):
    contamination: EvalSetContamination | None = Field(
        default=None, description="with overlap_index_id: the items checked against the training data")


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


def _screen_text(item: dict[str, Any]) -> str:
    """What could leak into a training set: the prompt (every turn), the reference, the held-out text."""
    parts = [item.get("prompt"), *(m["content"] for m in item.get("messages") or []), item.get("text")]
    reference = item.get("reference")
    parts.extend(reference if isinstance(reference, list) else [reference])
    return "\n".join(p for p in parts if p)


async def _contamination(ctx: AppContext, index_id: str, items: list[dict[str, Any]]) -> EvalSetContamination:
    from judge_service.api.memorization import ContaminationRequest, _contamination as screen

    request = ContaminationRequest.model_validate({"index_id": index_id,
                                                   "items": [{"id": i["id"], "text": _screen_text(i)} for i in items]})
    try:
        report = await asyncio.to_thread(screen, ctx, request)
    except NotFound as e:
        raise InvalidInput(str(e), field="overlap_index_id") from None
    flagged = [r["id"] for r in report["items"] if r["contaminated"]]
    warning = None
    if flagged:
        warning = (f"{len(flagged)} of {len(items)} item(s) appear in the training data ({', '.join(flagged[:10])}"
                   f"{' …' if len(flagged) > 10 else ''}); report figures on the clean items, or drop these and "
                   "save a new version")
    return EvalSetContamination(report_id=report["id"], index_id=index_id, n=report["n"],
                                contaminated=report["contaminated"], flagged=flagged, warning=warning)


@router.post("", response_model=EvalSetSaved, status_code=201,
             responses={**ERRORS, 200: {"model": EvalSetSaved, "description": "this content is already stored"}})
async def save_eval_set(body: EvalSetCreate, response: Response,
                        ctx: AppContext = Depends(get_ctx)) -> EvalSetSaved:
    items = _items(body)
    # Checked before saving: an unknown index is the caller's mistake, and no version is minted for it.
    contamination = None if body.overlap_index_id is None else await _contamination(ctx, body.overlap_index_id, items)

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
    return EvalSetSaved(**out.model_dump(), contamination=contamination)


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
