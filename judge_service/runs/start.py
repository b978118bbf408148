"""Starting a run: the one path from a checked spec and items to a queued run.

The runs API, uploads, and layers that make runs of their own (a training-curve checkpoint sweep)
all come through here, so a run is always validated and prepared the same way.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy.orm import Session

from judge_service.context import AppContext
from judge_service.engine.verdicts import Prepared, new_id, rubric_ref
from judge_service.errors import InvalidInput, NotFound
from judge_service.pilot.service import latest_pilot, pilot_link
from judge_service.runs.execution import calls_per_judge, resolve_execution
from judge_service.runs.spec import RunItem, RunSpec, validate_items
from judge_service.store.models import RunItemRow, RunRow


async def start_run(ctx: AppContext, spec: RunSpec, items: list[RunItem]) -> str:
    """Check, prepare (like every verdict), store and queue a run; its id. Every way of making a run ends here."""
    validate_items(spec, items, max_items=ctx.settings.max_run_items, max_text_chars=ctx.settings.max_text_chars)
    if spec.eval_set is not None:
        await ctx.db.run(lambda s: _check_eval_set(s, spec, items))

    async def check_calibration(prepared: Prepared) -> None:
        if spec.options.human_check is not None:
            await ctx.verdicts.usable_calibration(spec.options.human_check, prepared.rubric, prepared.judge_names,
                                                  field="options.human_check", scores_only=False)
        if spec.options.calibration is None:
            return
        if spec.mode == "pairwise":
            raise InvalidInput("a score calibration applies to absolute scores; use mode 'absolute' or 'both'",
                               field="options.calibration")
        await ctx.verdicts.usable_calibration(spec.options.calibration, prepared.rubric, prepared.judge_names,
                                              field="options.calibration")

    prepared = await ctx.verdicts.prepare(
        spec.rubric, mode="pairwise" if spec.mode == "pairwise" else "absolute", judges=spec.judges,
        samples=spec.samples, also_modes=("pairwise",) if spec.mode == "both" else (),
        missing_reference=[i.id for i in items if not i.reference], reference_field="items.reference",
        check=check_calibration)
    run_id = new_id("run")
    probes = await _length_probes(ctx, spec, items)
    execution = resolve_execution(spec.execution, prepared.judges, calls=calls_per_judge(spec.mode, len(items), spec.samples),
                                  min_calls=spec.batch_min_calls if spec.batch_min_calls is not None
                                  else ctx.settings.batch_auto_min_calls)
    stored_spec = spec.model_dump(mode="json") | {
        "run_id": run_id, "rubric": rubric_ref(prepared.rubric), "judges": prepared.judge_names,
        "judge_families": {j.name: j.spec.family for j in prepared.judges}, "execution": execution,
    } | await _wordings(ctx, spec, prepared) | probes

    def store(s: Session) -> None:
        s.add(RunRow(id=run_id, status="queued", spec=stored_spec, total=len(items)))
        s.flush()
        for pos, item in enumerate(items):
            # Optional multi-turn and imported fields are stored only when given, so a plain item's
            # stored form (which exports and reruns read) is what it was before they existed.
            unused = {k for k in ("histories", "external_judgments") if not getattr(item, k)}
            data = item.model_dump(mode="json", exclude=unused) | {"conversation": item.conversation()}
            s.add(RunItemRow(run_id=run_id, item_id=item.id, position=pos, item=data))

    await ctx.db.run(store)
    ctx.runs.start(run_id)
    return run_id


async def _length_probes(ctx: AppContext, spec: RunSpec, items: list[RunItem]) -> dict[str, Any]:
    """The probed items (a seeded sample of the baseline's answers) and a checked rewriter, for the stored spec."""
    probes = spec.length_probes
    if probes is None:
        return {}
    if spec.mode == "absolute":
        raise InvalidInput("length probes pin the pairwise length-controlled win rate; use mode 'pairwise' or 'both'",
                           field="length_probes")
    try:
        ctx.judges.spec(probes.rewriter)
    except NotFound as e:
        raise InvalidInput(e.message, field="length_probes.rewriter") from None
    # Seeded from a string (house rule): the same spec and items probe the same answers.
    ranked = sorted(items, key=lambda i: hashlib.sha256(f"{spec.seed}:probe:{i.id}".encode()).hexdigest())
    chosen = sorted(i.id for i in ranked[:probes.sample])
    return {"length_probes": probes.model_dump(mode="json") | {"items": chosen}}


async def _wordings(ctx: AppContext, spec: RunSpec, prepared: Prepared) -> dict[str, Any]:
    """The run's rubric variants (each hash recorded, each marked used) and its link to the latest pilot."""
    base = prepared.rubric

    def work(s: Session) -> dict[str, Any]:
        extra: dict[str, Any] = {"pilot": pilot_link(latest_pilot(s, base.name, base.version))}
        wordings = [base]
        if spec.rubric_variants is not None:
            wordings = ctx.rubrics.resolve_variants(spec.rubric, spec.rubric_variants)
            for w in wordings:
                ctx.rubrics.mark_used(w)
            extra["variants"] = [rubric_ref(w) for w in wordings]
        # What the judges read, kept with the run: comparing it with a later run names the difference.
        extra["rubric_texts"] = {w.variant: w.text() for w in wordings}
        return extra

    return await ctx.db.run(work)


def _check_eval_set(s: Session, spec: RunSpec, items: list[RunItem]) -> None:
    from judge_service.evalsets import store as evalset_store
    from judge_service.evalsets.content import run_items_problem

    ref = spec.eval_set
    assert ref is not None
    try:
        version = evalset_store.get(s, ref.name, ref.version)
    except NotFound as e:
        raise InvalidInput(str(e), field="eval_set") from None
    problem = run_items_problem(version.items, [i.model_dump(mode="json") for i in items])
    if problem is not None:
        pos, why = problem
        raise InvalidInput(f"{why} ('{ref.name}' v{ref.version}); save the items as a new version first",
                           field=f"items.{pos}.id")
