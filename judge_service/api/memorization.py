"""Training data against outputs and eval sets: overlap indexes, regurgitation, contamination.

    POST /v1/overlap-indexes          JSON records      → an index (reused by content hash)
    POST /v1/overlap-indexes/upload   JSONL / CSV file  → the same, streamed from a spooled file
    GET  /v1/overlap-indexes/{id}
    POST /v1/regurgitation            outputs (or a run's outputs) → copied spans, flags, base vs tuned
    GET  /v1/regurgitation/{id}
    POST /v1/contamination            eval items (or a run's items) → per-item rules, impact on outcomes
    GET  /v1/contamination/{id}

Building and screening are CPU work: they run in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import asdict
from typing import IO, Any, Literal

from fastapi import APIRouter, Depends, File, Form, UploadFile
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from judge_service.api.deps import get_ctx
from judge_service.context import AppContext
from judge_service.errors import InvalidInput, NotFound, PayloadTooLarge
from judge_service.memorization import contamination as con
from judge_service.memorization import regurgitation as reg
from judge_service.memorization.corpus import documents, file_records, list_records
from judge_service.memorization.impact import contamination_impact
from judge_service.memorization.index import IndexOptions, build_index
from judge_service.memorization.store import IndexStore, content_hash
from judge_service.schemas import ErrorBody, EstimateOut
from judge_service.store.models import RunItemRow, RunRow

router = APIRouter(tags=["memorization"])
ERRORS: dict[int | str, dict[str, Any]] = {s: {"model": ErrorBody} for s in (404, 413, 422)}


def store_of(ctx: AppContext) -> IndexStore:
    return ctx.overlap_indexes


# --- contract -------------------------------------------------------------------------------

class IndexOptionsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200)
    text_fields: list[str] | None = Field(default=None, min_length=1, description="default: assistant turns of "
                                          "'messages', else output / completion / response / text")
    id_field: str | None = Field(default="id", description="record field naming a document (default: its position)")
    n: int = Field(default=13, ge=5, le=64, description="n-gram size in tokens")
    unit: str = Field(default="words", description="'words' (lm-eval Janitor normalisation) or 'model:<tokenizer dir>'")
    boilerplate_share: float = Field(default=0.01, gt=0.0, le=1.0,
                                     description="an n-gram in more than this share of documents is boilerplate")
    boilerplate_min_docs: int = Field(default=10, ge=1)
    minhash: bool = Field(default=True, description="MinHash signatures for near-duplicate search")


class IndexCreate(IndexOptionsIn):
    records: list[dict[str, Any]] = Field(min_length=1, description="training records (chat 'messages', or fields)")


class OverlapIndexOut(BaseModel):
    id: str
    content_hash: str
    name: str | None
    reused: bool = False
    n_docs: int
    n_tokens: int
    indexed_ngrams: int
    boilerplate_ngrams: int
    options: dict[str, Any]
    text_fields: list[str] | None
    bytes_on_disk: int
    memory_bytes: int
    created_at: str


class MatchOut(BaseModel):
    doc_index: int
    doc_id: str
    doc_token_offset: int
    text_token_offset: int
    length: int
    text_span: str = Field(description="the copied characters, as the output / item has them")
    training_span: str = Field(description="the same tokens, as the training document has them")
    training_before: str
    training_after: str
    truncated: bool


class Thresholds(BaseModel):
    model_config = ConfigDict(extra="forbid")
    regurgitation: int = Field(default=50, ge=1)
    partial: int = Field(default=13, ge=1)


class OutputIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str | None = None
    output: str = Field(min_length=1, description="the tuned model's output")
    prompt: str | None = Field(default=None, description="its n-grams are excluded (an echo is not a copy)")
    reference: str | None = Field(default=None, description="its n-grams are excluded too")
    base_output: str | None = Field(default=None, description="the base model's output on the same prompt")


class RegurgitationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    index_id: str = Field(min_length=1)
    outputs: list[OutputIn] | None = Field(default=None, min_length=1, max_length=20_000)
    run_id: str | None = Field(default=None, description="screen a run's outputs: candidate as tuned, baseline as base")
    thresholds: Thresholds = Field(default_factory=Thresholds)
    exclude_echo: bool = True
    max_matches: int = Field(default=3, ge=0, le=20)
    confidence: float = Field(default=0.95, gt=0.0, lt=1.0)


class ScreenedOut(BaseModel):
    id: str
    flag: Literal["regurgitation", "partial", "none"]
    n_tokens: int
    longest_span: int
    copied_tokens: int
    copied_fraction: float
    excluded_ngrams: dict[str, int]
    matches: list[MatchOut]


class SystemRates(BaseModel):
    regurgitation: EstimateOut
    partial: EstimateOut
    any_copy: EstimateOut
    mean_copied_fraction: float


class PairedOut(BaseModel):
    base: EstimateOut
    tuned: EstimateOut
    difference: EstimateOut = Field(description="tuned − base; Newcombe paired CI; p_value: McNemar exact")
    both: int
    only_tuned: int
    only_base: int
    neither: int


class RegurgitationReport(BaseModel):
    id: str
    index_id: str
    source: str
    n: int
    thresholds: Thresholds
    tuned: SystemRates
    base: SystemRates | None
    comparison: dict[str, PairedOut] | None = Field(description="per flag: 'regurgitation' and 'any_copy'")
    items: list[ScreenedOut]
    base_items: list[ScreenedOut] | None
    created_at: str


class EvalItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str | None = None
    text: str | None = Field(default=None, description="the item's text (or give prompt / turns)")
    prompt: str | None = None
    turns: list[str] | None = None
    outcome: float | None = Field(default=None, description="this item's outcome (1/0 correct, a score, a win)")


class ContaminationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    index_id: str = Field(min_length=1)
    items: list[EvalItemIn] | None = Field(default=None, min_length=1, max_length=20_000)
    run_id: str | None = Field(default=None, description="a run's items; outcome = the run's candidate win rate per item")
    rule: Literal["any", "ngram", "palm", "minhash"] = "any"
    palm_threshold: float = Field(default=0.7, gt=0.0, le=1.0)
    minhash_threshold: float = Field(default=0.8, gt=0.0, le=1.0)
    max_matches: int = Field(default=3, ge=0, le=20)
    confidence: float = Field(default=0.95, gt=0.0, lt=1.0)
    n_resamples: int = Field(default=2000, ge=100, le=50_000)
    seed: str = "contamination"


class NearDuplicateOut(BaseModel):
    doc_index: int
    doc_id: str
    jaccard: float


class ItemContaminationOut(BaseModel):
    id: str
    n_tokens: int
    contaminated: bool
    ngram_hit: bool
    palm_fraction: float | None
    palm_contaminated: bool
    longest_span: int
    near_duplicates: list[NearDuplicateOut]
    matches: list[MatchOut]
    outcome: float | None


class ImpactOut(BaseModel):
    all_items: EstimateOut
    clean: EstimateOut
    contaminated: EstimateOut
    difference: EstimateOut = Field(description="contaminated − clean; p_value: permutation test")
    headline: EstimateOut = Field(description="the clean subset")


class ContaminationReport(BaseModel):
    id: str
    index_id: str
    source: str
    n: int
    rule: str
    contaminated: int
    ngram_hits: int
    palm_contaminated: int
    near_duplicates: int
    contamination_rate: EstimateOut
    impact: ImpactOut | None
    items: list[ItemContaminationOut]
    created_at: str


# --- indexes --------------------------------------------------------------------------------

def _options(body: IndexOptionsIn) -> IndexOptions:
    return IndexOptions(n=body.n, unit=body.unit, boilerplate_share=body.boilerplate_share,
                        boilerplate_min_docs=body.boilerplate_min_docs, minhash=body.minhash)


def _build(ctx: AppContext, body: IndexOptionsIn, source_sha: str, records: Any) -> dict[str, Any]:
    store = store_of(ctx)
    options = _options(body)
    digest = content_hash(source_sha, asdict(options) | {"text_fields": body.text_fields, "id_field": body.id_field})
    found = store.find(digest)
    if found is not None:
        return found | {"reused": True}
    index = build_index(documents(records, body.text_fields, body.id_field), options)
    summary = {"n_docs": index.n_docs, "n_tokens": index.n_tokens, "indexed_ngrams": int(len(index.hashes)),
               "boilerplate_ngrams": int(len(index.boilerplate)), "options": asdict(options),
               "text_fields": body.text_fields}
    return store.add(digest, body.name, index, summary) | {"reused": False}


@router.post("/v1/overlap-indexes", response_model=OverlapIndexOut, status_code=201, responses=ERRORS)
async def create_index(body: IndexCreate, ctx: AppContext = Depends(get_ctx)) -> dict[str, Any]:
    source = hashlib.sha256(json.dumps(body.records, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return await asyncio.to_thread(_build, ctx, body, source, list_records(body.records))


def _file_sha(stream: IO[bytes], limit: int) -> str:
    digest, size = hashlib.sha256(), 0
    while chunk := stream.read(1 << 20):
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the uploaded file is over {limit} bytes (JUDGE_MAX_BODY_BYTES)", field="file")
        digest.update(chunk)
    if size == 0:
        raise InvalidInput("the uploaded file is empty; upload JSONL or CSV training records", field="file")
    stream.seek(0)
    return digest.hexdigest()


@router.post("/v1/overlap-indexes/upload", response_model=OverlapIndexOut, status_code=201, responses=ERRORS)
async def upload_index(file: UploadFile = File(..., description="JSONL (one record per line) or CSV"),
                       options: str = Form(default="{}", description="JSON of the index options (text_fields, n, ...)"),
                       ctx: AppContext = Depends(get_ctx)) -> dict[str, Any]:
    try:
        body = IndexOptionsIn.model_validate_json(options)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or None
        raise InvalidInput(f"options: {loc}: {err['msg']}", field=f"options.{loc}" if loc else "options") from None

    def work() -> dict[str, Any]:
        # The multipart parser spools big files to disk; we read them in chunks, never whole.
        sha = _file_sha(file.file, ctx.settings.max_body_bytes)
        return _build(ctx, body, sha, file_records(file.file, file.filename or "records.jsonl"))

    return await asyncio.to_thread(work)


@router.get("/v1/overlap-indexes/{id}", response_model=OverlapIndexOut, responses=ERRORS)
async def get_index(id: str, ctx: AppContext = Depends(get_ctx)) -> dict[str, Any]:
    return await asyncio.to_thread(store_of(ctx).get, id)


# --- runs as sources ------------------------------------------------------------------------

def _run_items(ctx: AppContext, run_id: str) -> tuple[dict[str, Any], list[RunItemRow]]:
    with ctx.db.session() as s:
        run = s.get(RunRow, run_id)
        if run is None:
            raise NotFound(f"no run with id '{run_id}'", field="run_id")
        rows = list(s.query(RunItemRow).filter_by(run_id=run_id).order_by(RunItemRow.position))
        return dict(run.spec), rows


def _prompt_of(item: dict[str, Any]) -> str:
    return "\n".join(text for role, text in item.get("conversation", []) if role != "assistant") or item.get("prompt") or ""


def _win(result: dict[str, Any] | None) -> float | None:
    """The candidate's share of pairwise verdicts on an item (ties half); None if unjudged."""
    votes = [p for j in ((result or {}).get("pairwise") or {}).get("judges", []) for o in j.get("orders", [])
             for p in o.get("prob_candidate", []) if p is not None]
    return sum(votes) / len(votes) if votes else None


def _source(has_items: bool, run_id: str | None, field: str) -> None:
    if has_items == (run_id is not None):
        raise InvalidInput(f"give exactly one of '{field}' or 'run_id'", field=field if not has_items else "run_id")


# --- regurgitation --------------------------------------------------------------------------

def _rates(screened: list[reg.Screened], confidence: float) -> dict[str, Any]:
    n = len(screened)
    count = {f: sum(s.flag == f for s in screened) for f in ("regurgitation", "partial")}
    return {"regurgitation": reg.wilson(count["regurgitation"], n, confidence).to_dict(),
            "partial": reg.wilson(count["partial"], n, confidence).to_dict(),
            "any_copy": reg.wilson(count["regurgitation"] + count["partial"], n, confidence).to_dict(),
            "mean_copied_fraction": sum(s.overlap.copied_fraction for s in screened) / n if n else 0.0}


def _screened_out(s: reg.Screened) -> dict[str, Any]:
    o = s.overlap
    return {"id": s.item_id, "flag": s.flag, "n_tokens": o.n_tokens, "longest_span": o.longest,
            "copied_tokens": o.copied_tokens, "copied_fraction": o.copied_fraction, "excluded_ngrams": o.excluded_ngrams,
            "matches": [asdict(m) for m in s.matches]}


def _paired(result: reg.PairedRates) -> dict[str, Any]:
    return {"base": result.base.to_dict(), "tuned": result.tuned.to_dict(), "difference": result.difference.to_dict(),
            "both": result.both, "only_tuned": result.only_tuned, "only_base": result.only_base, "neither": result.neither}


def _regurgitation(ctx: AppContext, body: RegurgitationRequest) -> dict[str, Any]:
    _source(body.outputs is not None, body.run_id, "outputs")
    store = store_of(ctx)
    index = store.load(body.index_id)
    if body.outputs is not None:
        tuned = [reg.OutputToScreen(o.id or str(i), o.output, o.prompt, o.reference) for i, o in enumerate(body.outputs)]
        given = [o.base_output for o in body.outputs]
        if any(b is not None for b in given) and not all(b is not None for b in given):
            missing = next(i for i, b in enumerate(given) if b is None)
            raise InvalidInput("give base_output on every output or on none (the comparison is paired)",
                               field=f"outputs.{missing}.base_output")
        base = [reg.OutputToScreen(t.item_id, b, t.prompt, t.reference) for t, b in zip(tuned, given) if b is not None]
        source = "outputs"
    else:
        spec, rows = _run_items(ctx, body.run_id or "")
        tuned, base = [], []
        for r in rows:
            item, prompt = r.item, _prompt_of(r.item)
            tuned.append(reg.OutputToScreen(r.item_id, item["outputs"][spec["candidate"]], prompt, item.get("reference")))
            base.append(reg.OutputToScreen(r.item_id, item["outputs"][spec["baseline"]], prompt, item.get("reference")))
        source = f"run:{body.run_id}"
    limits = reg.Thresholds(body.thresholds.regurgitation, body.thresholds.partial)
    tuned_s = reg.screen(index, tuned, limits, body.exclude_echo, body.max_matches)
    base_s = reg.screen(index, base, limits, body.exclude_echo, body.max_matches) if base else None
    comparison = None
    if base_s is not None:
        comparison = {
            "regurgitation": _paired(reg.paired_rates([s.flag == "regurgitation" for s in base_s],
                                                      [s.flag == "regurgitation" for s in tuned_s], body.confidence)),
            "any_copy": _paired(reg.paired_rates([s.flag != "none" for s in base_s], [s.flag != "none" for s in tuned_s],
                                                 body.confidence))}
    result = {"index_id": body.index_id, "source": source, "n": len(tuned_s), "thresholds": body.thresholds.model_dump(),
              "tuned": _rates(tuned_s, body.confidence), "base": _rates(base_s, body.confidence) if base_s else None,
              "comparison": comparison, "items": [_screened_out(s) for s in tuned_s],
              "base_items": [_screened_out(s) for s in base_s] if base_s else None}
    return store.save_report("regurgitation", body.index_id, result)


@router.post("/v1/regurgitation", response_model=RegurgitationReport, status_code=201, responses=ERRORS)
async def regurgitation(body: RegurgitationRequest, ctx: AppContext = Depends(get_ctx)) -> dict[str, Any]:
    return await asyncio.to_thread(_regurgitation, ctx, body)


@router.get("/v1/regurgitation/{id}", response_model=RegurgitationReport, responses=ERRORS)
async def get_regurgitation(id: str, ctx: AppContext = Depends(get_ctx)) -> dict[str, Any]:
    return await asyncio.to_thread(store_of(ctx).report, "regurgitation", id)


# --- contamination --------------------------------------------------------------------------

def _item_text(item: EvalItemIn, i: int) -> str:
    parts = [item.text] if item.text else [p for p in [item.prompt, *(item.turns or [])] if p]
    if not parts or not any(p.strip() for p in parts):
        raise InvalidInput("the item has no text: give 'text', 'prompt' or 'turns'", field=f"items.{i}.text")
    return "\n".join(parts)


def _contamination(ctx: AppContext, body: ContaminationRequest) -> dict[str, Any]:
    _source(body.items is not None, body.run_id, "items")
    store = store_of(ctx)
    index = store.load(body.index_id)
    if body.items is not None:
        items = [con.EvalItem(it.id or str(i), _item_text(it, i)) for i, it in enumerate(body.items)]
        outcomes = [it.outcome for it in body.items]
        source = "items"
    else:
        _, rows = _run_items(ctx, body.run_id or "")
        items = [con.EvalItem(r.item_id, _prompt_of(r.item)) for r in rows]
        outcomes = [_win(r.result) for r in rows]
        source = f"run:{body.run_id}"
    found = con.screen_items(index, items, con.ContaminationOptions(body.palm_threshold, body.minhash_threshold,
                                                                    body.rule, body.max_matches))
    scored = [(o, f.contaminated) for o, f in zip(outcomes, found) if o is not None]
    impact = None
    if scored:
        result = contamination_impact([o for o, _ in scored], [c for _, c in scored], confidence=body.confidence,
                                      n_resamples=body.n_resamples, seed=body.seed)
        impact = {k: getattr(result, k).to_dict() for k in ("all_items", "clean", "contaminated", "difference", "headline")}
    n_dirty = sum(f.contaminated for f in found)
    report = {"index_id": body.index_id, "source": source, "n": len(found), "rule": body.rule, "contaminated": n_dirty,
              "ngram_hits": sum(f.ngram_hit for f in found), "palm_contaminated": sum(f.palm_contaminated for f in found),
              "near_duplicates": sum(bool(f.near_duplicates) for f in found),
              "contamination_rate": reg.wilson(n_dirty, len(found), body.confidence).to_dict(), "impact": impact,
              "items": [{"id": f.item_id, "n_tokens": f.n_tokens, "contaminated": f.contaminated, "ngram_hit": f.ngram_hit,
                         "palm_fraction": f.palm_fraction, "palm_contaminated": f.palm_contaminated,
                         "longest_span": f.longest_span, "near_duplicates": [asdict(d) for d in f.near_duplicates],
                         "matches": [asdict(m) for m in f.matches], "outcome": o} for f, o in zip(found, outcomes)]}
    return store.save_report("contamination", body.index_id, report)


@router.post("/v1/contamination", response_model=ContaminationReport, status_code=201, responses=ERRORS)
async def contamination(body: ContaminationRequest, ctx: AppContext = Depends(get_ctx)) -> dict[str, Any]:
    return await asyncio.to_thread(_contamination, ctx, body)


@router.get("/v1/contamination/{id}", response_model=ContaminationReport, responses=ERRORS)
async def get_contamination(id: str, ctx: AppContext = Depends(get_ctx)) -> dict[str, Any]:
    return await asyncio.to_thread(store_of(ctx).report, "contamination", id)


