"""Judging one run item: both systems' comparison (both orders) and/or absolute grades.

In a run the baseline is always response A and the candidate response B, so order "AB" shows
the baseline first and "BA" the candidate first. The result is an ``ItemResult`` record
(``runs/records.py``), stored as its JSON.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from judge_service.engine.call import CallOwner, JudgeCaller
from judge_service.engine.compare import ComparisonResult, compare
from judge_service.engine.grade import Conversation, GradeResult, Sampling, grade
from judge_service.engine.rewrite import KINDS, RewriteKind, rewrite, target_lengths
from judge_service.judges.registry import Judge
from judge_service.rubrics.model import Rubric
from judge_service.runs.records import (AbsoluteResult, GradeJudgeRecord, GradeRecord, ItemResult, LengthProbeRecord,
                                        PairwiseJudgeRecord,
                                        PairwiseOrderRecord, PairwiseResult, Role, VariantResult)

_TO_ROLE: dict[str | None, Role | None] = {"A": "baseline", "B": "candidate", "tie": "tie", None: None}


def _role(label: str | None) -> Role | None:
    return _TO_ROLE[label]


def _prob_candidate(prob_a: float | None) -> float | None:
    return None if prob_a is None else 1.0 - prob_a


def pairwise_record(r: ComparisonResult) -> PairwiseResult:
    return PairwiseResult(
        winner=_role(r.winner), prob_candidate=_prob_candidate(r.prob_a), consistent=r.consistent,
        judges=[
            PairwiseJudgeRecord(
                judge=j.judge, model=j.model, winner=_role(j.winner), prob_candidate=_prob_candidate(j.prob_a),
                consistent=j.consistent, cost_usd=j.cost_usd, error=j.error,
                orders=[PairwiseOrderRecord(order=o.order,
                                            winners=[w for w in map(_role, o.sample_winners) if w is not None],
                                            prob_candidate=[1.0 - p for p in o.sample_probs], error=o.error)
                        for o in j.orders],
            )
            for j in r.judges
        ],
    )


def grade_record(r: GradeResult) -> GradeRecord:
    return GradeRecord(score=r.score, criteria=dict(r.criteria), judges=[
        GradeJudgeRecord(judge=g.judge, model=g.model, score=g.score, samples=g.sample_scores,
                         sample_criteria=g.sample_criteria, cost_usd=g.cost_usd, error=g.error)
        for g in r.judges
    ])


async def judge_item(caller: JudgeCaller, rubric: Rubric, judges: list[Judge], item: dict[str, Any],
                     spec: dict[str, Any]) -> ItemResult:
    conv = Conversation(item["conversation"], item.get("reference"))
    sampling = Sampling(spec["samples"], spec["temperature"], spec["seed"])
    owner = CallOwner("run_item", f"{spec['run_id']}:{item['id']}")
    baseline, candidate = item["outputs"][spec["baseline"]], item["outputs"][spec["candidate"]]
    # Multi-turn items whose systems answered the earlier turns themselves (engine/histories.py).
    histories: dict[str, list[str]] | None = item.get("histories")
    own = None if histories is None else (histories[spec["baseline"]], histories[spec["candidate"]])
    mode: Literal["pairwise", "absolute", "both"] = spec["mode"]
    pairwise = compare(caller, rubric, judges, conv, baseline, candidate, sampling=sampling, owner=owner,
                       histories=own) if mode in ("pairwise", "both") else None
    grades = [grade(caller, rubric, judges, conv, text, sampling=sampling, owner=owner,
                    history=None if own is None else own[k])
              for k, text in enumerate((baseline, candidate))] if mode in ("absolute", "both") else []
    done = await asyncio.gather(*([pairwise] if pairwise is not None else []), *grades)
    compared: ComparisonResult | None = done[0] if pairwise is not None else None  # type: ignore[assignment]
    graded: list[GradeResult] = list(done[1:] if pairwise is not None else done)  # type: ignore[arg-type]
    return ItemResult(
        version=1,
        pairwise=pairwise_record(compared) if compared is not None else None,
        absolute=AbsoluteResult(baseline=grade_record(graded[0]), candidate=grade_record(graded[1])) if graded else None,
    )


async def judge_item_variants(caller: JudgeCaller, wordings: list[Rubric], judges: list[Judge], item: dict[str, Any],
                              spec: dict[str, Any]) -> ItemResult:
    """The item under every rubric wording of the run, each kept in its own record."""
    done = await asyncio.gather(*(judge_item(caller, w, judges, item, spec) for w in wordings))
    return ItemResult(version=1, variants=[
        VariantResult(variant=w.variant, rubric_hash=w.hash, pairwise=r.pairwise, absolute=r.absolute)
        for w, r in zip(wordings, done)])


async def length_probes(caller: JudgeCaller, rubric: Rubric, judges: list[Judge], rewriter: Judge,
                        item: dict[str, Any], spec: dict[str, Any]) -> list[LengthProbeRecord]:
    """The baseline's answer rewritten verbose and concise (one of them to the candidate's length on this item,
    ``target_lengths``), each judged against the original in both orders (original as A, so a record's
    prob_candidate is P(rewrite preferred))."""
    conv = Conversation(item["conversation"], item.get("reference"))
    sampling = Sampling(spec["samples"], spec["temperature"], spec["seed"])
    original = item["outputs"][spec["baseline"]]
    targets = target_lengths(len(original), len(item["outputs"][spec["candidate"]]))

    async def one(kind: RewriteKind) -> LengthProbeRecord:
        owner = CallOwner("run_item", f"{spec['run_id']}:{item['id']}:probe-{kind}")
        text = await rewrite(caller, rewriter, original, kind, targets[kind], seed=spec["seed"], owner=owner)
        if text is None:
            return LengthProbeRecord(kind=kind, rewrite=None, error=f"the rewriter '{rewriter.name}' gave no text")
        judged = await compare(caller, rubric, judges, conv, original, text, sampling=sampling, owner=owner)
        return LengthProbeRecord(kind=kind, rewrite=text, pairwise=pairwise_record(judged))

    return list(await asyncio.gather(*(one(k) for k in KINDS)))


async def evaluate_item(caller: JudgeCaller, rubric: Rubric | list[Rubric], judges: list[Judge], item: dict[str, Any],
                        spec: dict[str, Any], rewriter: Judge | None = None) -> dict[str, object]:
    """The item's record in its stored (JSON) form, what the run manager commits.

    ``rubric`` is a list when the run is a panel over rubric variants. ``rewriter``: the run's length-probe
    rewriter, when it has one; the items it samples are also probed (under the run's first wording)."""
    if isinstance(rubric, list):
        result = await judge_item_variants(caller, rubric, judges, item, spec)
    else:
        result = await judge_item(caller, rubric, judges, item, spec)
    probed = (spec.get("length_probes") or {}).get("items") or []
    if rewriter is not None and item["id"] in probed:
        first = rubric[0] if isinstance(rubric, list) else rubric
        result.length_probes = await length_probes(caller, first, judges, rewriter, item, spec)
    return result.to_json()
