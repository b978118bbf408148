"""Absolute grading: each judge scores one response on every criterion of a rubric."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from judge_service.engine.call import CallOwner, CallResult, JudgeCaller
from judge_service.engine.histories import own_conversation
from judge_service.engine.panel import Spread, mean_or_none, spread
from judge_service.engine.prompts import output_schema, render_messages
from judge_service.judges.base import AnswerField, JudgeRequest
from judge_service.judges.registry import Judge
from judge_service.rubrics.model import Rubric


@dataclass(frozen=True)
class Conversation:
    messages: list[tuple[str, str]]  # (role, content); the last user turn is what was answered
    reference: str | None = None


@dataclass(frozen=True)
class Sampling:
    samples: int = 1
    temperature: float = 0.0
    seed: int = 0


@dataclass
class JudgeGrade:
    judge: str
    model: str
    score: float | None
    criteria: dict[str, float]
    rationale: str | None
    method: str | None
    cached: bool
    latency_ms: float
    usage: dict[str, int]
    cost_usd: float | None
    sample_scores: list[float]
    sample_criteria: list[dict[str, float]]
    sample_spread: Spread
    error: str | None = None
    error_code: str | None = None  # the provider error's code when every call failed at the provider
    variant: str = "default"  # the rubric wording (panels over variants)


@dataclass
class GradeResult:
    score: float | None
    criteria: dict[str, float]
    judges: list[JudgeGrade]
    panel_spread: Spread
    unscored: list[str] = field(default_factory=list)


def answer_fields(rubric: Rubric) -> tuple[AnswerField, ...]:
    return tuple(AnswerField(c.name, c.labels) for c in rubric.criteria)


def overall(rubric: Rubric, criteria: dict[str, float]) -> float:
    weights = {c.name: c.weight for c in rubric.criteria}
    return sum(criteria[n] * weights[n] for n in criteria) / sum(weights[n] for n in criteria)


def _usage(results: list[CallResult]) -> dict[str, int]:
    return {
        "input_tokens": sum(r.usage.input_tokens for r in results),
        "output_tokens": sum(r.usage.output_tokens for r in results),
    }


def _cost(results: list[CallResult]) -> float | None:
    costs = [r.cost_usd for r in results]
    return None if any(c is None for c in costs) else sum(costs)  # type: ignore[arg-type]


def failure_code(results: list[CallResult]) -> str | None:
    """The provider error code when every call failed at the provider (not merely unparseable)."""
    codes = [r.error_code for r in results]
    if not codes or any(c is None for c in codes):
        return None
    return "judge_auth_error" if all(c == "judge_auth_error" for c in codes) else "judge_error"


def judge_grade(judge: Judge, rubric: Rubric, results: list[CallResult]) -> JudgeGrade:
    scored = [r for r in results if r.parsed is not None]
    per_sample = [{n: a.expected() for n, a in r.parsed.fields.items()} for r in scored]  # type: ignore[union-attr]
    sample_scores = [overall(rubric, c) for c in per_sample]
    criteria = {c.name: mean_or_none([s[c.name] for s in per_sample]) for c in rubric.criteria} if per_sample else {}
    first = scored[0] if scored else None
    return JudgeGrade(
        judge=judge.name,
        model=first.model if first else judge.spec.model,
        score=mean_or_none(sample_scores),
        criteria=criteria,  # type: ignore[arg-type]
        rationale=first.parsed.rationale if first and first.parsed else None,
        method=first.parsed.method if first and first.parsed else None,
        cached=all(r.cached for r in results),
        latency_ms=sum(r.latency_ms for r in results),
        usage=_usage(results),
        cost_usd=_cost(results),
        sample_scores=sample_scores,
        sample_criteria=per_sample,
        sample_spread=spread(sample_scores),
        error=None if scored else (results[0].error if results else "no call made"),
        error_code=None if scored else failure_code(results),
    )


async def grade(caller: JudgeCaller, rubric: Rubric, judges: list[Judge], conv: Conversation, response: str,
                *, sampling: Sampling, owner: CallOwner, history: list[str] | None = None) -> GradeResult:
    """``history``: this response's system's own earlier answers (``engine/histories.py``); the judge
    then reads that system's own conversation, the response answering its last user turn."""
    fields = answer_fields(rubric)
    shown = conv.messages if history is None else own_conversation(conv.messages, history)
    messages = render_messages(rubric, "absolute", fields, messages=shown, response=response,
                               reference=conv.reference)

    async def run_judge(judge: Judge) -> JudgeGrade:
        requests = [
            JudgeRequest(messages=messages, fields=fields, output_schema=output_schema(fields),
                         temperature=sampling.temperature, seed=sampling.seed, sample_index=i)
            for i in range(sampling.samples)
        ]
        results = await asyncio.gather(*(caller.call(judge, r, rubric_hash=rubric.hash, owner=owner) for r in requests))
        return judge_grade(judge, rubric, list(results))

    grades = list(await asyncio.gather(*(run_judge(j) for j in judges)))
    scored = [g for g in grades if g.score is not None]
    criteria = {c.name: mean_or_none([g.criteria[c.name] for g in scored]) for c in rubric.criteria} if scored else {}
    return GradeResult(
        score=mean_or_none([g.score for g in scored]),  # type: ignore[misc]
        criteria=criteria,  # type: ignore[arg-type]
        judges=grades,
        panel_spread=spread([g.score for g in scored]),  # type: ignore[misc]
        unscored=[g.judge for g in grades if g.score is None],
    )
