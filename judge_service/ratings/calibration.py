"""Calibrating a judge panel against a human rating set.

The panel (with one rubric version) judges every rated item. The report puts judge-vs-human
agreement beside the human-vs-human ceiling (each rater against the others), and fits a map from
the panel's score to the human scale (isotonic, K-fold so the "after" figures are out of sample)
or, for pairwise sets, the tie threshold on P(A better). Judge calls are cached, so re-running a
calibration after a restart costs nothing for calls already made.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import Counter
from typing import TYPE_CHECKING, Any, Literal, Required, TypeAlias, TypedDict, cast

import numpy as np

from judge_service.context import AppContext
from judge_service.engine.call import CallOwner
from judge_service.engine.compare import compare
from judge_service.engine.grade import Conversation, Sampling, grade
from judge_service.errors import Conflict, InvalidInput, NotFound
from judge_service.ratings.sets import CanonicalItem
from judge_service.rubrics.model import Rubric
from judge_service.stats.agreement import BootstrapConfig, pairwise_agreement, rater_agreement, score_agreement
from judge_service.stats.calibrate import (
    IsotonicMappingJson, apply_mapping, calibrate_scores, fit_tie_threshold, predict_votes,
)
from judge_service.store.models import CalibrationRow, RatingSetRow

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

log = logging.getLogger("judge_service.calibration")

Json: TypeAlias = "dict[str, Json] | list[Json] | str | int | float | bool | None"


class CalibrationItem(CanonicalItem, total=False):
    conversation: list[tuple[str, str]]  # (role, content), added by execute() from prompt or messages


class PanelVerdict(TypedDict, total=False):
    """The panel's answer on one item: ``score`` for a graded set, ``winner`` and ``prob_a`` for a pairwise one."""

    score: float | None
    winner: str | None
    prob_a: float | None


class TieThresholdJson(TypedDict):
    kind: Literal["tie_threshold"]
    threshold: float


StoredMapping: TypeAlias = "IsotonicMappingJson | TieThresholdJson"


class CalibrationReport(TypedDict, total=False):
    """A calibration's stored report; figures are the stats dataclasses as JSON (non-finite -> null)."""

    kind: Required[str]
    n_items: Required[int]
    raters: Required[list[str]]
    human_ceiling: dict[str, Json] | None
    human_ceiling_reason: str
    n_scored: int
    n_unscored: int
    judge_vs_human: dict[str, Json]
    calibration: dict[str, Json]
    judge_vs_human_after_threshold_in_sample: dict[str, Json]


def _jsonable_fields(obj: DataclassInstance) -> dict[str, Json]:
    return {k: _jsonable(v) for k, v in dataclasses.asdict(obj).items()}


def _jsonable(obj: object) -> Json:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _jsonable_fields(obj)
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    if isinstance(obj, np.generic):
        return _jsonable(obj.item())
    return cast(Json, obj)  # what is left in the stats dataclasses: str, int, bool, None


def _human_matrix(items: list[CalibrationItem]) -> tuple[list[str], list[list[float | str | None]]]:
    raters = sorted({r for it in items for r in it["ratings"]})
    return raters, [[it["ratings"].get(r) for it in items] for r in raters]


def _majority_vote(votes: list[str]) -> str:
    label, count = Counter(votes).most_common(1)[0]
    return label if count * 2 > len(votes) else "tie"


async def judge_items(ctx: AppContext, cal_id: str, rubric: Rubric, judge_names: list[str], kind: str,
                      items: list[CalibrationItem], samples: int) -> list[PanelVerdict]:
    judges = [ctx.judges.get(n) for n in judge_names]
    gate = asyncio.Semaphore(ctx.settings.run_item_concurrency)
    sampling = Sampling(samples, 0.0 if samples == 1 else 0.7, 0)

    async def one(item: CalibrationItem) -> PanelVerdict:
        async with gate:
            conv = Conversation(item["conversation"], item.get("reference"))
            owner = CallOwner("calibration", f"{cal_id}:{item['id']}")
            if kind == "pairwise":
                r = await compare(ctx.caller, rubric, judges, conv, item["response_a"], item["response_b"],
                                  sampling=sampling, owner=owner)
                return {"winner": r.winner, "prob_a": r.prob_a}
            g = await grade(ctx.caller, rubric, judges, conv, item["response"], sampling=sampling, owner=owner)
            return {"score": g.score}

    return list(await asyncio.gather(*(one(it) for it in items)))


def build_report(kind: str, rubric: Rubric, items: list[CalibrationItem], verdicts: list[PanelVerdict], folds: int,
                 seed: str) -> tuple[CalibrationReport, StoredMapping]:
    """(report, mapping). Items the panel left unscored are excluded and counted."""
    boot = BootstrapConfig(seed=seed, n_resamples=1000)
    raters, matrix = _human_matrix(items)
    lo, hi = rubric.scale()
    labels = list(range(lo, hi + 1))
    report: CalibrationReport = {"kind": kind, "n_items": len(items), "raters": raters}
    if len(raters) >= 2:
        ceiling = rater_agreement(matrix, kind, labels=labels if kind != "pairwise" else None, bootstrap=boot)
        report["human_ceiling"] = _jsonable_fields(ceiling) | {"rater_names": list(raters)}
    else:
        report["human_ceiling"] = None
        report["human_ceiling_reason"] = "needs at least two raters"
    keep = [i for i, v in enumerate(verdicts) if (v.get("score") if kind != "pairwise" else v.get("prob_a")) is not None]
    report["n_scored"] = len(keep)
    report["n_unscored"] = len(items) - len(keep)
    if kind == "pairwise":
        gold = [_majority_vote([str(v) for v in items[i]["ratings"].values()]) for i in keep]
        prob_a = np.array([verdicts[i]["prob_a"] for i in keep])
        # A comparison with a prob_a has a winner (engine/compare.py: both come from the scored judges).
        judge_votes = cast("list[str]", [verdicts[i]["winner"] for i in keep])
        report["judge_vs_human"] = _jsonable_fields(pairwise_agreement(judge_votes, gold, bootstrap=boot))
        tie = fit_tie_threshold(prob_a, gold, folds=folds, seed=seed)
        report["calibration"] = _jsonable_fields(tie)
        after = predict_votes(prob_a, tie.threshold)
        report["judge_vs_human_after_threshold_in_sample"] = _jsonable_fields(pairwise_agreement(list(after), gold, bootstrap=boot))
        return report, {"kind": "tie_threshold", "threshold": tie.threshold}
    human = np.array([np.nanmean([float(v) for v in items[i]["ratings"].values()]) for i in keep])
    judge = np.array([verdicts[i]["score"] for i in keep])
    report["judge_vs_human"] = _jsonable_fields(score_agreement(judge, human, bootstrap=boot))
    cal = calibrate_scores(judge, human, folds=folds, seed=seed)
    report["calibration"] = _jsonable_fields(cal)
    return report, cal.mapping.to_json()


async def execute(ctx: AppContext, cal_id: str) -> None:
    with ctx.db.session() as s:
        row = s.get(CalibrationRow, cal_id)
        assert row is not None  # the router stores the row before it schedules this task
        spec = dict(row.spec)
        rs = s.get(RatingSetRow, row.rating_set_id)
        assert rs is not None  # a foreign key of the calibration row
        content, kind = rs.content, rs.kind
    report: CalibrationReport | None
    mapping: StoredMapping | None
    try:
        rubric = ctx.rubrics.resolve(f"{spec['rubric']['name']}@{spec['rubric']['version']}")
        items: list[CalibrationItem] = content["items"]
        for it in items:
            it["conversation"] = [("user", it["prompt"])] if "prompt" in it else [(m["role"], m["content"]) for m in it["messages"]]
        verdicts = await judge_items(ctx, cal_id, rubric, spec["judges"], kind, items, spec["samples"])
        report, mapping = build_report(kind, rubric, items, verdicts, spec["folds"], seed=cal_id)
        status, error = "done", None
    except asyncio.CancelledError:
        raise
    except Exception as e:  # reported on the calibration; nothing else is affected
        log.exception("calibration %s failed", cal_id)
        report, mapping, status, error = None, None, "failed", getattr(e, "message", str(e))
    with ctx.db.session() as s:
        row = s.get(CalibrationRow, cal_id)
        assert row is not None
        # The JSON columns are typed as plain dicts, which a TypedDict is not: store shallow copies.
        row.status, row.error = status, error
        row.report = dict(report) if report is not None else None
        row.mapping = dict(mapping) if mapping is not None else None


def usable_calibration(ctx: AppContext, cal_id: str, rubric: Rubric, judges: list[str], *,
                       field: str = "calibration") -> IsotonicMappingJson:
    """The stored score mapping of a finished calibration that fits this rubric version and panel."""
    with ctx.db.session() as s:
        row = s.get(CalibrationRow, cal_id)
    if row is None:
        raise NotFound(f"unknown calibration '{cal_id}'", field=field)
    if row.status != "done" or row.mapping is None:
        raise Conflict(f"calibration '{cal_id}' is {row.status}; wait until it is done", field=field)
    if row.mapping.get("kind") != "isotonic":
        raise InvalidInput(f"calibration '{cal_id}' is for pairwise votes; it cannot calibrate a score", field=field)
    if row.spec["rubric"]["hash"] != rubric.hash:
        raise Conflict(f"calibration '{cal_id}' was fitted on rubric {row.spec['rubric']['name']}@{row.spec['rubric']['version']} "
                       f"(hash {row.spec['rubric']['hash'][:8]}…), not {rubric.ref}", field=field)
    if sorted(judges) != sorted(row.spec["judges"]):
        raise Conflict(f"calibration '{cal_id}' was fitted for judges {sorted(row.spec['judges'])}; this uses {sorted(judges)}",
                       field=field)
    return cast(IsotonicMappingJson, row.mapping)  # stored by execute() from IsotonicMapping.to_json()


def apply_calibration(ctx: AppContext, cal_id: str, rubric: Rubric, out: dict[str, Any]) -> None:
    """Add ``calibrated_score`` to a judgment body, if the calibration fits its rubric and judges.

    ``out`` is the judgment response body that api/judgments.py builds (and owns the shape of).
    """
    mapping = usable_calibration(ctx, cal_id, rubric, [j["judge"] for j in out["judges"]])
    if out["score"] is not None:
        out["calibrated_score"] = float(apply_mapping(mapping, [out["score"]])[0])
    out["calibration_id"] = cal_id
