"""Pairwise comparison: every judge sees both orders (A first, then B first).

Position bias is the best-documented judge bias, so no verdict is ever taken from one order.
Per judge, the two orders are reconciled: when they agree, that is the verdict; when they
disagree, it is a tie and ``consistent`` is false. ``prob_a`` averages the two orders' P(A better).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from judge_service.engine.call import CallOwner, CallResult, JudgeCaller
from judge_service.engine.grade import Conversation, Sampling, _cost, _usage, failure_code
from judge_service.engine.panel import Spread, majority, mean_or_none, spread
from judge_service.engine.prompts import output_schema, render_messages
from judge_service.judges.base import AnswerField, JudgeRequest
from judge_service.judges.registry import Judge
from judge_service.rubrics.model import Rubric

WINNER_FIELD = AnswerField("winner", ("A", "B", "tie"))
ORDERS = ("AB", "BA")


@dataclass
class OrderVerdict:
    order: str
    judge: str
    winner: str | None  # in terms of the caller's A and B, whatever position they were shown in
    prob_a: float | None
    rationale: str | None
    method: str | None
    sample_winners: list[str]
    sample_probs: list[float]
    sample_spread: Spread
    cached: bool
    error: str | None = None
    error_code: str | None = None


@dataclass
class JudgeComparison:
    judge: str
    model: str
    winner: str | None
    prob_a: float | None
    consistent: bool | None
    orders: list[OrderVerdict]
    cached: bool
    latency_ms: float
    usage: dict[str, int]
    cost_usd: float | None
    error: str | None = None
    error_code: str | None = None  # the provider error's code when every unscored order failed at the provider
    variant: str = "default"  # the rubric wording (panels over variants)


@dataclass
class ComparisonResult:
    winner: str | None
    prob_a: float | None
    consistent: bool | None
    judges: list[JudgeComparison]
    panel_spread: Spread
    votes: dict[str, int]
    unscored: list[str]


def _prob_first(result: CallResult) -> tuple[str, float]:
    """(label chosen, P(first-shown response better)) with ties counted half."""
    ans = result.parsed.fields["winner"]  # type: ignore[union-attr]
    if ans.probs:
        p = ans.probs.get("A", 0.0) + 0.5 * ans.probs.get("tie", 0.0)
    else:
        p = {"A": 1.0, "B": 0.0, "tie": 0.5}[ans.label]
    return ans.label, p


def _to_identity(order: str, label: str) -> str:
    if label == "tie" or order == "AB":
        return label
    return "B" if label == "A" else "A"


def order_verdict(order: str, judge: Judge, results: list[CallResult]) -> OrderVerdict:
    scored = [r for r in results if r.parsed is not None]
    winners, probs = [], []
    for r in scored:
        label, p_first = _prob_first(r)
        winners.append(_to_identity(order, label))
        probs.append(p_first if order == "AB" else 1.0 - p_first)
    first = scored[0] if scored else None
    return OrderVerdict(
        order=order,
        judge=judge.name,
        winner=(winners[0] if len(winners) == 1 else majority(winners)) if winners else None,
        prob_a=mean_or_none(probs),
        rationale=first.parsed.rationale if first and first.parsed else None,
        method=first.parsed.method if first and first.parsed else None,
        sample_winners=winners,
        sample_probs=probs,
        sample_spread=spread(probs),
        cached=all(r.cached for r in results),
        error=None if scored else (results[0].error if results else "no call made"),
        error_code=None if scored else failure_code(results),
    )


def reconcile(judge: Judge, orders: list[OrderVerdict], results: list[CallResult]) -> JudgeComparison:
    ab, ba = orders
    model = next((r.model for r in results if r.parsed is not None), judge.spec.model)
    cached = all(r.cached for r in results)
    latency_ms = sum(r.latency_ms for r in results)
    usage, cost_usd = _usage(results), _cost(results)
    if ab.winner is None or ba.winner is None:
        # One order alone cannot be trusted (position bias), so the judge is unscored.
        missing = [o.order for o in orders if o.winner is None]
        reason = next(o.error for o in orders if o.winner is None)
        codes = [o.error_code for o in orders if o.winner is None]
        code = None if any(c is None for c in codes) else (
            "judge_auth_error" if all(c == "judge_auth_error" for c in codes) else "judge_error")
        return JudgeComparison(winner=None, prob_a=None, consistent=None,
                               error=f"order(s) {missing} unscored: {reason}", error_code=code,
                               judge=judge.name, model=model, orders=orders, cached=cached, latency_ms=latency_ms,
                               usage=usage, cost_usd=cost_usd)
    consistent = ab.winner == ba.winner
    return JudgeComparison(
        winner=ab.winner if consistent else "tie",
        prob_a=(ab.prob_a + ba.prob_a) / 2,  # type: ignore[operator]
        consistent=consistent,
        judge=judge.name, model=model, orders=orders, cached=cached, latency_ms=latency_ms,
        usage=usage, cost_usd=cost_usd,
    )


async def compare(caller: JudgeCaller, rubric: Rubric, judges: list[Judge], conv: Conversation,
                  response_a: str, response_b: str, *, sampling: Sampling, owner: CallOwner,
                  histories: tuple[list[str], list[str]] | None = None) -> ComparisonResult:
    """``histories``: A's and B's own earlier answers when each answered the earlier turns itself
    (``engine/histories.py``); they swap with the responses, so each order shows whole conversations."""
    fields = (WINNER_FIELD,)
    schema = output_schema(fields)
    shown = {"AB": (response_a, response_b), "BA": (response_b, response_a)}
    shown_histories = {"AB": histories, "BA": None if histories is None else (histories[1], histories[0])}
    rendered = {
        order: render_messages(rubric, "pairwise", fields, messages=conv.messages, response_a=first,
                               response_b=second, reference=conv.reference, histories=shown_histories[order])
        for order, (first, second) in shown.items()
    }

    async def run_order(judge: Judge, order: str) -> list[CallResult]:
        requests = [
            JudgeRequest(messages=rendered[order], fields=fields, output_schema=schema,
                         temperature=sampling.temperature, seed=sampling.seed, sample_index=i)
            for i in range(sampling.samples)
        ]
        order_owner = CallOwner(owner.kind, owner.id, order)
        return list(await asyncio.gather(*(caller.call(judge, r, rubric_hash=rubric.hash, owner=order_owner) for r in requests)))

    async def run_judge(judge: Judge) -> JudgeComparison:
        ab_results, ba_results = await asyncio.gather(run_order(judge, "AB"), run_order(judge, "BA"))
        orders = [order_verdict("AB", judge, ab_results), order_verdict("BA", judge, ba_results)]
        return reconcile(judge, orders, ab_results + ba_results)

    per_judge = list(await asyncio.gather(*(run_judge(j) for j in judges)))
    scored = [j for j in per_judge if j.winner is not None]
    votes = {lab: sum(1 for j in scored if j.winner == lab) for lab in ("A", "B", "tie")}
    return ComparisonResult(
        winner=majority([j.winner for j in scored]) if scored else None,  # type: ignore[misc]
        prob_a=mean_or_none([j.prob_a for j in scored]),  # type: ignore[misc]
        consistent=all(j.consistent for j in scored) if scored else None,
        judges=per_judge,
        panel_spread=spread([j.prob_a for j in scored]),  # type: ignore[misc]
        votes=votes,
        unscored=[j.judge for j in per_judge if j.winner is None],
    )
