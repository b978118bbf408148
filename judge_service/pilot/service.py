"""Running a rubric pilot: every item under every variant × judge × sample (both orders for pairs),
through the same engine as any verdict (cache, limits, call records), then the report, stored.

A pilot's calls are cached like any other: a pilot repeated on the same sample costs nothing, and a
run that later uses the same wording, judges and seed replays the pilot's first repeat.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from judge_service.context import AppContext
from judge_service.engine.call import CallOwner
from judge_service.engine.compare import ComparisonResult, compare
from judge_service.engine.grade import Conversation, GradeResult, Sampling, grade
from judge_service.engine.verdicts import new_id
from judge_service.errors import InvalidInput, JudgeError, NotFound
from judge_service.pilot.report import PairObservation, PilotInputs, ScoreObservation, pilot_report
from judge_service.pilot.spec import PilotItem, PilotRequest, validate_pilot
from judge_service.rubrics.model import Rubric
from judge_service.store.models import RubricPilotRow


async def run_pilot(ctx: AppContext, name: str, body: PilotRequest) -> dict[str, Any]:
    """``POST /v1/rubrics/{name}/pilot``: judge the sample, build the report, store it, return it."""
    validate_pilot(body)
    v = ctx.verdicts
    for i, item in enumerate(body.items):
        v.check_texts({f"items.{i}.{k}": t for k, t in (("prompt", item.prompt), ("response", item.response),
                                                         ("response_a", item.response_a),
                                                         ("response_b", item.response_b),
                                                         ("reference", item.reference))})
    v.check_samples(body.samples)
    ref = name if body.version is None else f"{name}@{body.version}"
    variants = body.variants if body.variants is not None else ["all"]
    wordings: list[Rubric] = await ctx.db.run(lambda _s: ctx.rubrics.resolve_variants(ref, variants,
                                                                                      field="variants"))
    base = wordings[0].wording("default")
    kinds = {item.kind for item in body.items}
    for kind in kinds:
        if kind not in base.modes:
            raise InvalidInput(f"rubric {base.name}@{base.version} does not support {kind} items "
                               f"(supports {list(base.modes)})", field="items")
    if base.requires_reference:
        missing = [item.id for item in body.items if not item.reference]
        if missing:
            raise InvalidInput(f"rubric {base.name}@{base.version} is reference-guided; items without a reference: "
                               f"{missing[:5]}", field="items")
    judges = await v.resolve_judges(body.judges)
    def mark(_s: Session) -> None:
        for wording in wordings:
            ctx.rubrics.mark_used(wording)

    await ctx.db.run(mark)

    pilot_id = new_id("plt")
    owner = CallOwner("pilot", pilot_id)
    scores: list[ScoreObservation] = []
    pairs: list[PairObservation] = []
    costs: dict[str, list[float | None]] = {w.variant: [] for w in wordings}

    async def one(item: PilotItem, wording: Rubric, k: int) -> None:
        # Repeat k is its own call with seed + k: a provider given the same seed for every repeat
        # (OpenAI's `seed`, the fake server) would return the same reply and hide the judge's noise.
        sampling = Sampling(1, body.temperature, body.seed + k)
        conv = Conversation(item.conversation(), item.reference)
        if item.response is not None:
            graded = await grade(ctx.caller, wording, judges, conv, item.response, sampling=sampling, owner=owner)
            _collect_grades(item.id, wording.variant, graded, k, scores, costs)
        else:
            assert item.response_a is not None and item.response_b is not None  # validate_pilot
            compared = await compare(ctx.caller, wording, judges, conv, item.response_a, item.response_b,
                                     sampling=sampling, owner=owner)
            _collect_pairs(item.id, wording.variant, compared, k, pairs, costs)

    await asyncio.gather(*(one(item, w, k) for item in body.items for w in wordings for k in range(body.samples)))
    if not any(o.score is not None for o in scores) and not any(o.prob_a is not None for o in pairs):
        raise JudgeError("every call of the pilot came back unscored or failed; check the judges with GET /v1/judges "
                         "and their reply format (the pilot is not stored)", field="judges")
    scale = base.scale()
    inputs = PilotInputs(
        variants=[w.variant for w in wordings], judges=[j.name for j in judges], samples=body.samples, scale=scale,
        scores=scores, pairs=pairs,
        human_scores={i.id: i.human_score for i in body.items if i.human_score is not None},
        human_preferences={i.id: i.human_preference for i in body.items if i.human_preference is not None},
        cost_by_variant={k: (None if any(c is None for c in cs) else float(sum(c for c in cs if c is not None)))
                         for k, cs in costs.items()},
        confidence=body.confidence, n_resamples=body.n_resamples, alpha=body.alpha, seed=f"pilot/{body.seed}",
    )
    report = await asyncio.get_running_loop().run_in_executor(None, pilot_report, inputs)
    out = {
        "id": pilot_id,
        "rubric": {"name": base.name, "version": base.version, "hash": base.hash},
        "variants": [{"variant": w.variant, "hash": w.hash, "ref": w.ref,
                      "note": (base.source.get("variants") or {}).get(w.variant, {}).get("note")} for w in wordings],
        "judges": inputs.judges,
        "samples": body.samples,
        "temperature": body.temperature,
        "n_items": len(body.items),
        "created_at": datetime.now(timezone.utc).isoformat(),
        **report,
    }
    row = RubricPilotRow(id=pilot_id, rubric_name=base.name, rubric_version=base.version, rubric_hash=base.hash,
                         variants={w.variant: w.hash for w in wordings}, wording_sensitive=bool(report["wording_sensitive"]),
                         request=body.model_dump(mode="json"), report=out)
    await ctx.db.run(lambda s: s.add(row))
    return out


def _collect_grades(item_id: str, variant: str, graded: GradeResult, k: int, scores: list[ScoreObservation],
                    costs: dict[str, list[float | None]]) -> None:
    for g in graded.judges:
        costs[variant].append(g.cost_usd)
        scores.append(ScoreObservation(item_id, variant, g.judge, k, g.sample_scores[0] if g.sample_scores else None))


def _collect_pairs(item_id: str, variant: str, compared: ComparisonResult, k: int,
                   pairs: list[PairObservation], costs: dict[str, list[float | None]]) -> None:
    for j in compared.judges:
        costs[variant].append(j.cost_usd)
        # Both orders reconciled, as for any comparison: unscored unless both orders were scored.
        consistent = j.consistent
        pairs.append(PairObservation(item_id, variant, j.judge, k, j.prob_a, consistent))


async def stored_pilot(ctx: AppContext, pilot_id: str) -> dict[str, Any]:
    row = await ctx.db.run(lambda s: s.get(RubricPilotRow, pilot_id))
    if row is None:
        raise NotFound(f"no rubric pilot with id '{pilot_id}'", field="id")
    report: dict[str, Any] = dict(row.report)
    return report


def latest_pilot(s: Session, name: str, version: int) -> RubricPilotRow | None:
    """The newest pilot of a rubric version: what a run made with it links to."""
    return s.scalars(select(RubricPilotRow).where(RubricPilotRow.rubric_name == name,
                                                  RubricPilotRow.rubric_version == version)
                     .order_by(RubricPilotRow.created_at.desc()).limit(1)).first()


def pilot_link(row: RubricPilotRow | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"id": row.id, "wording_sensitive": row.wording_sensitive, "variants": dict(row.variants),
            "created_at": row.created_at.isoformat() if row.created_at else None,
            "verdict": row.report.get("verdict")}
