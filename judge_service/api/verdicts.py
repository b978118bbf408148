"""Turning engine results into the contract's JSON, and storing them."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from judge_service.context import AppContext
from judge_service.engine.compare import ComparisonResult
from judge_service.engine.grade import GradeResult
from judge_service.rubrics.model import Rubric
from judge_service.store.models import JudgmentRow


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


def _sum_cost(costs: list[float | None]) -> float | None:
    return None if any(c is None for c in costs) else sum(costs)  # type: ignore[arg-type]


def rubric_ref(rubric: Rubric) -> dict:
    return {"name": rubric.name, "version": rubric.version, "hash": rubric.hash}


def grade_body(id_: str, rubric: Rubric, result: GradeResult) -> dict:
    return {
        "id": id_,
        "kind": "judgment",
        "rubric": rubric_ref(rubric),
        "score": result.score,
        "criteria": result.criteria,
        "length_adjusted_score": None,
        "calibrated_score": None,
        "calibration_id": None,
        "judges": [
            {
                "judge": g.judge, "model": g.model, "score": g.score, "criteria": g.criteria,
                "rationale": g.rationale, "method": g.method, "cached": g.cached, "latency_ms": g.latency_ms,
                "usage": g.usage, "cost_usd": g.cost_usd, "samples": g.sample_scores,
                "sample_spread": g.sample_spread.to_dict(), "error": g.error,
            }
            for g in result.judges
        ],
        "panel": {"method": "mean", "spread": result.panel_spread.to_dict(), "unscored": result.unscored},
        "cost_usd": _sum_cost([g.cost_usd for g in result.judges]),
        "created_at": datetime.now(timezone.utc).isoformat(),
    }


def comparison_body(id_: str, rubric: Rubric, result: ComparisonResult) -> dict:
    return {
        "id": id_,
        "kind": "comparison",
        "rubric": rubric_ref(rubric),
        "winner": result.winner,
        "prob_a": result.prob_a,
        "consistent": result.consistent,
        "orders": [
            {
                "order": o.order, "judge": o.judge, "winner": o.winner, "prob_a": o.prob_a,
                "rationale": o.rationale, "method": o.method, "samples": o.sample_winners,
                "sample_spread": o.sample_spread.to_dict(), "cached": o.cached, "error": o.error,
            }
            for j in result.judges for o in j.orders
        ],
        "judges": [
            {
                "judge": j.judge, "model": j.model, "winner": j.winner, "prob_a": j.prob_a,
                "consistent": j.consistent, "cached": j.cached, "latency_ms": j.latency_ms, "usage": j.usage,
                "cost_usd": j.cost_usd, "error": j.error,
            }
            for j in result.judges
        ],
        "panel": {"method": "majority", "spread": result.panel_spread.to_dict(), "unscored": result.unscored,
                  "votes": result.votes},
        "cost_usd": _sum_cost([j.cost_usd for j in result.judges]),
        "created_at": datetime.now(timezone.utc).isoformat(),
    }


def store_verdict(ctx: AppContext, kind: str, rubric: Rubric, request: dict, body: dict) -> None:
    with ctx.db.session() as s:
        s.add(JudgmentRow(id=body["id"], kind=kind, rubric_name=rubric.name, rubric_version=rubric.version,
                          rubric_hash=rubric.hash, request=request, result=body))
