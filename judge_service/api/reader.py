"""Read side for the web UI: GET /v1/reader/runs (the list) and /v1/reader/runs/{id}/items (the reader).

``/v1/runs/{id}/items`` returns verdicts only; the side-by-side reader also needs what was asked,
both outputs and each judge's rationale per order (kept on the stored judge calls), filtered,
searched and paged on the server so a 500-item run stays fast in a phone's browser. Pure
projection of stored rows: nothing here judges or computes a figure.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy import func

from judge_service.api.deps import get_ctx
from judge_service.context import AppContext
from judge_service.engine.flags import detect_flags, judge_directed_spans
from judge_service.errors import NotFound
from judge_service.evaluation.store import EvaluationRow
from judge_service.memorization.store import MemorizationReportRow
from judge_service.schemas import ErrorBody
from judge_service.store.models import JudgeCallRow, RunItemRow, RunRow

router = APIRouter(prefix="/v1/reader", tags=["web ui"])
ERRORS: dict[int | str, dict[str, Any]] = {s: {"model": ErrorBody} for s in (401, 403, 404, 422)}
Filter = Literal["all", "judges_disagree", "orders_disagree", "candidate_lost", "longest", "flagged", "failed"]


class RunSummary(BaseModel):
    id: str
    status: str
    baseline: str
    candidate: str
    mode: str
    rubric: str
    judges: list[str]
    done: int
    failed: int
    total: int
    created_at: str


class Rationale(BaseModel):
    judge: str
    order: str | None  # "AB" (baseline shown first), "BA", or None for an absolute grade
    system: str | None  # "baseline" | "candidate" for absolute grades
    rationale: str | None
    error: str | None


class Highlight(BaseModel):
    side: Literal["baseline", "candidate"]
    kind: Literal["judge_directed", "copied"]
    text: str  # as it appears in that output (the page marks each occurrence)


class ReaderItem(BaseModel):
    id: str
    position: int
    status: str
    error: str | None
    conversation: list[tuple[str, str]]
    reference: str | None
    baseline: str
    candidate: str
    # Multi-turn items whose systems answered the earlier turns themselves: each one's own earlier answers.
    baseline_history: list[str] = []
    candidate_history: list[str] = []
    length_difference: int  # candidate minus baseline, characters
    result: dict[str, Any] | None
    rationales: list[Rationale]
    flags: list[str]
    highlights: list[Highlight]


class ReaderPage(BaseModel):
    total: int  # items matching the filter and search
    offset: int
    items: list[ReaderItem]


class ReaderPoint(BaseModel):
    id: str
    length_difference: int
    prob_candidate: float | None
    winner: str | None
    judges: dict[str, float | None]  # judge -> P(candidate better)
    score_difference: float | None
    baseline_score: float | None
    candidate_score: float | None


class EvaluationSummary(BaseModel):
    id: str
    name: str | None
    baseline: str
    candidate: str
    layers: list[str]
    created_at: str


def _run(ctx: AppContext, run_id: str) -> RunRow:
    with ctx.db.session() as s:
        run = s.get(RunRow, run_id)
    if run is None:
        raise NotFound(f"no run with id '{run_id}'; GET /v1/reader/runs lists them", field="id")
    return run


@router.get("/runs", response_model=list[RunSummary], responses=ERRORS)
def list_runs(limit: int = Query(100, ge=1, le=1000), ctx: AppContext = Depends(get_ctx)) -> list[dict[str, Any]]:
    with ctx.db.session() as s:
        runs = list(s.query(RunRow).order_by(RunRow.created_at.desc()).limit(limit))
        counts: dict[tuple[str, str], int] = {
            (r, st): n for r, st, n in s.query(RunItemRow.run_id, RunItemRow.status, func.count())
            .filter(RunItemRow.run_id.in_([r.id for r in runs])).group_by(RunItemRow.run_id, RunItemRow.status)}
    return [{"id": r.id, "status": r.status, "baseline": r.spec["baseline"], "candidate": r.spec["candidate"],
             "mode": r.spec["mode"], "rubric": f"{r.spec['rubric']['name']}@{r.spec['rubric']['version']}",
             "judges": r.spec["judges"], "done": counts.get((r.id, "done"), 0), "failed": counts.get((r.id, "failed"), 0),
             "total": r.total, "created_at": r.created_at.isoformat()} for r in runs]


def _pair_outputs(row: RunItemRow, spec: dict[str, Any]) -> tuple[str, str]:
    outputs = row.item["outputs"]
    return outputs[spec["baseline"]], outputs[spec["candidate"]]


def _judge_winners(result: dict[str, Any] | None) -> list[str | None]:
    return [j.get("winner") for j in ((result or {}).get("pairwise") or {}).get("judges", [])]


def _orders_disagree(result: dict[str, Any] | None) -> bool:
    return any(j.get("consistent") is False for j in ((result or {}).get("pairwise") or {}).get("judges", []))


def _candidate_lost(result: dict[str, Any] | None) -> bool:
    pw = (result or {}).get("pairwise")
    if pw:
        return bool(pw.get("winner") == "baseline")
    ab = (result or {}).get("absolute") or {}
    c, b = (ab.get("candidate") or {}).get("score"), (ab.get("baseline") or {}).get("score")
    return c is not None and b is not None and c < b


def _flags(row: RunItemRow, spec: dict[str, Any]) -> list[str]:
    baseline, candidate = _pair_outputs(row, spec)
    flags = list(detect_flags(baseline, candidate))
    if _orders_disagree(row.result):
        flags.append("inconsistent")
    pw = (row.result or {}).get("pairwise") or {}
    ab = (row.result or {}).get("absolute") or {}
    if (pw and pw.get("prob_candidate") is None) or any((ab.get(r) or {}).get("score", 0) is None for r in ab):
        flags.append("unscored")
    return flags


def _matches(row: RunItemRow, spec: dict[str, Any], flt: Filter, q: str, copied: set[str]) -> bool:
    if q:
        baseline, candidate = _pair_outputs(row, spec)
        text = " ".join([row.item_id, baseline, candidate, *(c for _, c in row.item.get("conversation", []))]).lower()
        if q.lower() not in text:
            return False
    if flt == "judges_disagree":
        return len({w for w in _judge_winners(row.result) if w is not None}) > 1
    if flt == "orders_disagree":
        return _orders_disagree(row.result)
    if flt == "candidate_lost":
        return _candidate_lost(row.result)
    if flt == "flagged":
        return bool(_flags(row, spec)) or row.item_id in copied
    if flt == "failed":
        return row.status == "failed"
    return True


def _rationales(ctx: AppContext, run_id: str, rows: list[RunItemRow], spec: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    owners = {f"{run_id}:{r.item_id}": r for r in rows}
    out: dict[str, list[dict[str, Any]]] = {r.item_id: [] for r in rows}
    if not owners:
        return out
    with ctx.db.session() as s:
        calls = list(s.query(JudgeCallRow).filter(JudgeCallRow.owner_kind == "run_item", JudgeCallRow.owner_id.in_(owners))
                     .order_by(JudgeCallRow.id))
    for call in calls:
        row = owners[call.owner_id]
        system = None
        if not call.order:  # an absolute grade: which output was under judgment
            baseline, candidate = _pair_outputs(row, spec)
            # messages are stored as [role, content] pairs (engine/call.py); the graded output is in the last one
            last = str(call.messages[-1][1]) if call.messages and len(call.messages[-1]) > 1 else ""
            system = "candidate" if candidate in last and baseline not in last else "baseline"
        rationale = (call.parsed or {}).get("rationale") if isinstance(call.parsed, dict) else None
        out[row.item_id].append({"judge": call.judge, "order": call.order or None, "system": system,
                                 "rationale": rationale, "error": call.error})
    return out


def _copied_spans(ctx: AppContext, run_id: str) -> dict[tuple[str, str], list[str]]:
    """(item id, side) -> spans copied from training data, from the newest regurgitation report
    screened on this run (POST /v1/regurgitation with run_id); empty when there is none."""
    with ctx.db.session() as s:
        rows = list(s.query(MemorizationReportRow).filter_by(kind="regurgitation")
                    .order_by(MemorizationReportRow.created_at.desc()).limit(50))
    report = next((r.result for r in rows if r.result.get("source") == f"run:{run_id}"), None)
    spans: dict[tuple[str, str], list[str]] = {}
    for side, key in (("candidate", "items"), ("baseline", "base_items")):
        for screened in (report or {}).get(key) or []:
            found = [m["text_span"] for m in screened.get("matches", []) if m.get("text_span")]
            if found:
                spans[(screened["id"], side)] = found
    return spans


def _highlights(baseline: str, candidate: str, copied: dict[tuple[str, str], list[str]], item_id: str) -> list[dict[str, str]]:
    out = [{"side": side, "kind": "judge_directed", "text": t}
           for side, text in (("baseline", baseline), ("candidate", candidate)) for t in judge_directed_spans(text)]
    return out + [{"side": side, "kind": "copied", "text": t}
                  for side in ("baseline", "candidate") for t in copied.get((item_id, side), [])]


@router.get("/runs/{id}/items", response_model=ReaderPage, responses=ERRORS)
def reader_items(id: str, filter: Filter = "all", q: str = Query("", max_length=200),
                 ids: str | None = Query(None, description="comma-separated item ids (a figure's selection)"),
                 offset: int = Query(0, ge=0), limit: int = Query(20, ge=1, le=100),
                 ctx: AppContext = Depends(get_ctx)) -> dict[str, Any]:
    run = _run(ctx, id)
    spec = run.spec
    with ctx.db.session() as s:
        rows = list(s.query(RunItemRow).filter_by(run_id=id).order_by(RunItemRow.position))
    if ids:
        wanted = set(ids.split(","))
        rows = [r for r in rows if r.item_id in wanted]
    copied = _copied_spans(ctx, id)
    rows = [r for r in rows if _matches(r, spec, filter, q, {item for item, _ in copied})]
    if filter == "longest":
        rows.sort(key=lambda r: -max(len(t) for t in _pair_outputs(r, spec)))
    page = rows[offset:offset + limit]
    rationales = _rationales(ctx, id, page, spec)
    items = []
    for r in page:
        baseline, candidate = _pair_outputs(r, spec)
        highlights = _highlights(baseline, candidate, copied, r.item_id)
        flags = _flags(r, spec) + (["copied"] if any(h["kind"] == "copied" for h in highlights) else [])
        items.append({"id": r.item_id, "position": r.position, "status": r.status, "error": r.error,
                      "conversation": r.item.get("conversation", []), "reference": r.item.get("reference"),
                      "baseline": baseline, "candidate": candidate, "length_difference": len(candidate) - len(baseline),
                      "baseline_history": (r.item.get("histories") or {}).get(spec["baseline"], []),
                      "candidate_history": (r.item.get("histories") or {}).get(spec["candidate"], []),
                      "result": r.result, "rationales": rationales[r.item_id], "flags": flags,
                      "highlights": highlights})
    return {"total": len(rows), "offset": offset, "items": items}


@router.get("/runs/{id}/points", response_model=list[ReaderPoint], responses=ERRORS)
def reader_points(id: str, ctx: AppContext = Depends(get_ctx)) -> list[dict[str, Any]]:
    """One small point per item, for the figures that link to their items (scatter, histograms)."""
    run = _run(ctx, id)
    with ctx.db.session() as s:
        rows = list(s.query(RunItemRow).filter_by(run_id=id).order_by(RunItemRow.position))
    points = []
    for r in rows:
        baseline, candidate = _pair_outputs(r, run.spec)
        pw = (r.result or {}).get("pairwise") or {}
        ab = (r.result or {}).get("absolute") or {}
        c, b = (ab.get("candidate") or {}).get("score"), (ab.get("baseline") or {}).get("score")
        points.append({"id": r.item_id, "length_difference": len(candidate) - len(baseline),
                       "prob_candidate": pw.get("prob_candidate"), "winner": pw.get("winner"),
                       "judges": {j["judge"]: j.get("prob_candidate") for j in pw.get("judges", [])},
                       "score_difference": None if c is None or b is None else c - b,
                       "baseline_score": b, "candidate_score": c})
    return points


@router.get("/evaluations", response_model=list[EvaluationSummary], responses=ERRORS)
def list_evaluations(limit: int = Query(100, ge=1, le=1000), ctx: AppContext = Depends(get_ctx)) -> list[dict[str, Any]]:
    """The evaluations, newest first; each one's verdict is computed when its page reads /v1/evaluations/{id}."""
    with ctx.db.session() as s:
        rows = list(s.query(EvaluationRow).order_by(EvaluationRow.created_at.desc()).limit(limit))
    return [{"id": r.id, "name": r.name, "baseline": r.baseline, "candidate": r.candidate, "layers": sorted(r.layers),
             "created_at": r.created_at.isoformat()} for r in rows]
