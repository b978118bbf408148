"""POST /v1/evaluations/{id}/rerun: an older evaluation's judge layer again on a newer eval-set version.

"Re-running an older model on the new version is one call." Which items need new outputs is
``judge_service.evaluation.rerun``'s; this router reads the old evaluation and its run, starts the
new run through the runs API (its one home) and stores the new evaluation beside the old one.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session

from judge_service.api.deps import get_ctx
from judge_service.api.evaluations import ERRORS, EvaluationOut, _report
from judge_service.context import AppContext
from judge_service.errors import InvalidInput, NotFound
from judge_service.evalsets import store as evalset_store
from judge_service.evalsets.content import diff
from judge_service.evaluation import store
from judge_service.schemas import EvalSetRef
from judge_service.store.models import RunItemRow, RunRow

router = APIRouter(prefix="/v1/evaluations", tags=["evaluations"])


class RerunOutputsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=200, description="an item of the new eval-set version")
    outputs: dict[str, str] = Field(description="system name -> its output on the new item (both systems)")


class EvaluationRerun(BaseModel):
    model_config = ConfigDict(extra="forbid")
    eval_set_version: int | None = Field(default=None, ge=1, description="default: the eval set's latest version")
    outputs: list[RerunOutputsIn] = Field(default_factory=list,
                                          description="both systems' outputs on the items added or changed since the "
                                                      "evaluation's version (unchanged items reuse the old run's)")
    name: str | None = Field(default=None, max_length=200, description="default: the old name + ' @v<version>'")


class EvaluationRerunOut(BaseModel):
    evaluation: EvaluationOut
    run_id: str = Field(description="the new judge run (same rubric version, judges, mode and options as the old one)")
    eval_set: EvalSetRef
    reused: list[str] = Field(description="unchanged items: the old run's outputs, judged again (cached calls are free)")
    supplied: list[str] = Field(description="items added or changed: the outputs sent with this request")
    dropped: list[str] = Field(description="items of the old run that the new version removed")
    not_carried: list[str] = Field(description="layers of the old evaluation that depend on the eval set's items "
                                               "and were not carried over (re-create them on the new version)")


@router.post("/{id}/rerun", response_model=EvaluationRerunOut, status_code=201, responses=ERRORS)
async def rerun_evaluation(id: str, body: EvaluationRerun, ctx: AppContext = Depends(get_ctx)) -> EvaluationRerunOut:
    from judge_service.api.runs import create_run
    from judge_service.engine.verdicts import recorded_ref
    from judge_service.evaluation.rerun import rerun_items
    from judge_service.runs.spec import RunCreate

    old = await ctx.db.run(lambda s: store.get(s, id))
    if not old.layers.get("judge"):
        raise InvalidInput(f"evaluation {id} has no judge layer to re-run", field="id")
    if old.eval_set_name is None or old.eval_set_version is None:
        raise InvalidInput(f"evaluation {id} names no eval-set version, so nothing says which items are new; "
                           "create the new evaluation with POST /v1/evaluations", field="id")
    name, old_version, run_id = old.eval_set_name, old.eval_set_version, old.layers["judge"]["run_id"]

    def read(s: Session) -> tuple[Any, Any, dict[str, Any], dict[str, dict[str, Any]]]:
        was = evalset_store.get(s, name, old_version)
        try:
            now = evalset_store.get(s, name, body.eval_set_version)
        except NotFound as e:
            raise InvalidInput(str(e), field="eval_set_version") from None
        run = s.get(RunRow, run_id)
        if run is None:
            raise NotFound(f"the judge run {run_id} of evaluation {id} is gone", field="id")
        items = {r.item_id: r.item for r in s.query(RunItemRow).filter_by(run_id=run_id)}
        return was, now, dict(run.spec), items

    was, now, spec, old_items = await ctx.db.run(read)
    if now.version == was.version:
        raise InvalidInput(f"evaluation {id} is already on '{name}' v{now.version}; save the changed items as a "
                           "new version first", field="eval_set_version")
    supplied: dict[str, dict[str, str]] = {}
    new_ids = set(now.item_hashes)
    for i, o in enumerate(body.outputs):
        if o.id not in new_ids:
            raise InvalidInput(f"item '{o.id}' is not in '{name}' v{now.version}", field=f"outputs.{i}.id")
        if set(o.outputs) != {spec["baseline"], spec["candidate"]}:
            raise InvalidInput(f"item '{o.id}' needs outputs of exactly '{spec['baseline']}' and '{spec['candidate']}'",
                               field=f"outputs.{i}.outputs")
        supplied[o.id] = o.outputs
    plan = rerun_items(now.items, diff(was.item_hashes, now.item_hashes), old_items, supplied)
    if plan.missing:
        shown = ", ".join(plan.missing[:20]) + (" …" if len(plan.missing) > 20 else "")
        raise InvalidInput(f"{len(plan.missing)} item(s) of '{name}' v{now.version} are new or changed and need both "
                           f"systems' outputs in 'outputs': {shown}", field="outputs")
    if not plan.items:
        raise InvalidInput(f"'{name}' v{now.version} has no prompt items to judge", field="eval_set_version")
    ref = EvalSetRef(name=name, version=now.version)
    try:
        run_body = RunCreate.model_validate({
            # The old run's rubric version and wording, not the newest: a rubric edited since would
            # make the two runs differ in more than the eval set.
            "rubric": recorded_ref(spec["rubric"]), "judges": spec["judges"], "mode": spec["mode"],
            "baseline": spec["baseline"], "candidate": spec["candidate"], "samples": spec.get("samples", 1),
            "temperature": spec.get("temperature", 0.0), "seed": spec.get("seed", 0),
            "options": spec.get("options") or {}, "eval_set": ref.model_dump(), "items": plan.items,
            # the same probes (rewriter and sample size); start_run draws the new version's sample
            "length_probes": {k: v for k, v in spec["length_probes"].items() if k in ("rewriter", "sample")}
            if spec.get("length_probes") else None}
            | ({"rubric_variants": [v["variant"] for v in spec["variants"]]} if spec.get("variants") else {}))
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise InvalidInput(f"{loc}: {err['msg']}", field="outputs" if loc.startswith("items") else loc) from None
    accepted = await create_run(run_body, ctx)
    carried = {k: v for k, v in old.layers.items() if k in ("training", "benchmarks")}
    not_carried = sorted(k for k in old.layers if k not in carried and k != "judge")
    row = store.EvaluationRow(id=f"eval_{uuid.uuid4().hex[:20]}", name=body.name or f"{old.name or id} @v{now.version}",
                              baseline=old.baseline, candidate=old.candidate, eval_set_name=name,
                              eval_set_version=now.version, layers={"judge": {"run_id": accepted.id}} | carried)

    def save(s: Session) -> store.EvaluationRow:
        s.add(row)
        s.flush()
        return row

    out, _ = await _report(ctx, await ctx.db.run(save))
    return EvaluationRerunOut(evaluation=out, run_id=accepted.id, eval_set=ref, reused=plan.reused,
                              supplied=plan.supplied, dropped=plan.dropped, not_carried=not_carried)
