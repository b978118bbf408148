"""A panel over rubric wordings: one verdict per variant, then aggregated across judges × variants.

Each variant's verdict is made exactly as a single-rubric verdict (its own hash in every call and
cache key); the pooled verdict is the same aggregation a panel of judges gets, over every
(judge, variant) pair: the mean score, the majority of reconciled pairwise verdicts. The
per-variant verdicts stay in the response (``variants``), so no figure hides which wording made it.
"""

from __future__ import annotations

import dataclasses

from judge_service.engine.compare import ComparisonResult
from judge_service.engine.grade import GradeResult
from judge_service.engine.panel import majority, mean_or_none, spread
from judge_service.rubrics.model import Rubric


def pooled_grade(rubric: Rubric, per_variant: list[tuple[Rubric, GradeResult]]) -> GradeResult:
    judges = [dataclasses.replace(g, variant=w.variant) for w, r in per_variant for g in r.judges]
    scored = [g for g in judges if g.score is not None]
    criteria = ({c.name: mean_or_none([g.criteria[c.name] for g in scored if c.name in g.criteria])
                 for c in rubric.criteria} if scored else {})
    return GradeResult(
        score=mean_or_none([g.score for g in scored if g.score is not None]),
        criteria={k: v for k, v in criteria.items() if v is not None},
        judges=judges,
        panel_spread=spread([g.score for g in scored if g.score is not None]),
        unscored=[f"{g.judge}:{g.variant}" for g in judges if g.score is None],
    )


def pooled_comparison(per_variant: list[tuple[Rubric, ComparisonResult]]) -> ComparisonResult:
    judges = [dataclasses.replace(j, variant=w.variant) for w, r in per_variant for j in r.judges]
    scored = [j for j in judges if j.winner is not None]
    return ComparisonResult(
        winner=majority([j.winner for j in scored if j.winner is not None]) if scored else None,
        prob_a=mean_or_none([j.prob_a for j in scored if j.prob_a is not None]),
        consistent=all(j.consistent for j in scored) if scored else None,
        judges=judges,
        panel_spread=spread([j.prob_a for j in scored if j.prob_a is not None]),
        votes={lab: sum(1 for j in scored if j.winner == lab) for lab in ("A", "B", "tie")},
        unscored=[f"{j.judge}:{j.variant}" for j in judges if j.winner is None],
    )
