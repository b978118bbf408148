"""GET /v1/runs/{id}/export/{fastchat,alpaca-eval}: a run's verdicts in those tools' formats.

For users who keep FastChat's ``show_result.py``: ``kind=pair`` gives ``<judge>_pair.jsonl`` lines
(pairwise verdicts, both orders), ``kind=single`` gives ``<judge>_single.jsonl`` lines (absolute
scores). The mapping lives in ``judge_service.importers.fastchat_export``; this module only reads
the run and shapes the answer. ``alpaca-eval`` gives AlpacaEval's ``annotations.json`` (a JSON
list; ``judge_service.importers.alpaca_export``).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from judge_service.api.deps import get_ctx
from judge_service.context import AppContext
from judge_service.errors import InvalidInput, NotFound
from judge_service.importers.fastchat_export import export_lines
from judge_service.runs.records import ItemResult
from judge_service.schemas import ErrorBody
from judge_service.store.models import RunItemRow, RunRow

router = APIRouter(prefix="/v1/runs", tags=["runs"])
ERRORS: dict[int | str, dict[str, Any]] = {s: {"model": ErrorBody} for s in (404, 422)}


def _read(s: Session, run_id: str) -> tuple[RunRow, list[RunItemRow]]:
    run = s.get(RunRow, run_id)
    if run is None:
        raise NotFound(f"no run with id '{run_id}'", field="id")
    return run, list(s.query(RunItemRow).filter_by(run_id=run_id).order_by(RunItemRow.position))


@router.get("/{id}/export/fastchat", response_class=Response,
            responses={**ERRORS, 200: {"content": {"application/x-ndjson": {"schema": {"type": "string"}}},
                                       "description": "FastChat model_judgment lines, one JSON object per line"}})
async def export_fastchat(id: str, kind: Literal["pair", "single"] = Query(
        default="pair", description="pair: <judge>_pair.jsonl (pairwise runs); single: <judge>_single.jsonl "
                                    "(absolute scores)"),
        judge: str | None = Query(default=None, description="one judge of the run's panel (default: all)"),
        ctx: AppContext = Depends(get_ctx)) -> Response:
    run, rows = await ctx.db.run(lambda s: _read(s, id))
    spec = run.spec
    wanted = "pairwise" if kind == "pair" else "absolute"
    if spec["mode"] not in (wanted, "both"):
        other = "single" if kind == "pair" else "pair"
        raise InvalidInput(f"run {id} is a {spec['mode']} run: it has no {wanted} verdicts; ask for kind={other}",
                           field="kind")
    if judge is not None and judge not in spec["judges"]:
        raise InvalidInput(f"judge '{judge}' is not on run {id}'s panel {spec['judges']}", field="judge")
    stamp = (run.finished_at or run.created_at).timestamp()
    lines = export_lines(kind, [r.item for r in rows], [ItemResult.read(r.result) for r in rows],
                         baseline=spec["baseline"], candidate=spec["candidate"], rubric=spec["rubric"]["name"],
                         tstamp=stamp)
    if judge is not None:
        lines = [line for line in lines if line["judge_name"] == judge]
    body = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
    return Response(body, media_type="application/x-ndjson",
                    headers={"Content-Disposition": f'attachment; filename="{id}_{kind}.jsonl"'})


class AlpacaAnnotationOut(BaseModel):
    instruction: str
    output_1: str = Field(description="the baseline's output (AlpacaEval's reference side)")
    generator_1: str
    output_2: str
    generator_2: str
    annotator: str
    preference: float | None = Field(description="1 + the candidate's mean probability over judges, orders and "
                                                 "samples; None when no judge answered")
    id: str = Field(description="the run item's id (AlpacaEval ignores extra keys)")


@router.get("/{id}/export/alpaca-eval", response_model=list[AlpacaAnnotationOut], responses=ERRORS)
async def export_alpaca_eval(id: str, ctx: AppContext = Depends(get_ctx)) -> list[AlpacaAnnotationOut]:
    from judge_service.importers.alpaca_export import annotation_rows

    run, rows = await ctx.db.run(lambda s: _read(s, id))
    spec = run.spec
    if spec["mode"] not in ("pairwise", "both"):
        raise InvalidInput(f"run {id} is an {spec['mode']} run: AlpacaEval annotations are pairwise preferences",
                           field="id")
    annotator = f"judge-service:{spec['rubric']['name']}:{'+'.join(spec['judges'])}"
    out = annotation_rows([r.item for r in rows], [ItemResult.read(r.result) for r in rows],
                          baseline=spec["baseline"], candidate=spec["candidate"], annotator=annotator)
    return [AlpacaAnnotationOut(**row) for row in out]
