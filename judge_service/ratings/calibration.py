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
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy.orm import Session

from judge_service.engine.call import CallOwner
from judge_service.engine.compare import compare
from judge_service.engine.grade import Conversation, Sampling, grade
from judge_service.rubrics.model import Rubric
from judge_service.stats.agreement import BootstrapConfig, pairwise_agreement, rater_agreement, score_agreement
from judge_service.stats.calibrate import calibrate_scores, fit_tie_threshold, predict_votes
from judge_service.store.models import CalibrationRow, RatingSetRow

if TYPE_CHECKING:
    from judge_service.context import AppContext

log = logging.getLogger("judge_service.calibration")


def _jsonable(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {k: _jsonable(v) for k, v in dataclasses.asdict(obj).items()}
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    if isinstance(obj, np.generic):
        return _jsonable(obj.item())
    return obj


def _human_matrix(items: list[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    raters = sorted({r for it in items for r in it["ratings"]})
    return raters, [[it["ratings"].get(r) for it in items] for r in raters]


def _majority_vote(votes: list[str]) -> str:
    label, count = Counter(votes).most_common(1)[0]
    return label if count * 2 > len(votes) else "tie"


async def judge_items(ctx: AppContext, cal_id: str, rubric: Rubric, judge_names: list[str], kind: str,
                      items: list[dict[str, Any]], samples: int) -> list[dict[str, Any]]:
    judges = await ctx.judges.get_many(judge_names)
    gate = asyncio.Semaphore(ctx.settings.run_item_concurrency)
    sampling = Sampling(samples, 0.0 if samples == 1 else 0.7, 0)

    async def one(item: dict[str, Any]) -> dict[str, Any]:
        async with gate:
            conv = Conversation(item["conversation"], item.get("reference"))
            owner = CallOwner("calibration", f"{cal_id}:{item['id']}")
            if kind == "pairwise":
                histories = (item["history_a"], item["history_b"]) if "history_a" in item else None
                r = await compare(ctx.caller, rubric, judges, conv, item["response_a"], item["response_b"],
                                  sampling=sampling, owner=owner, histories=histories)
                return {"winner": r.winner, "prob_a": r.prob_a}
            g = await grade(ctx.caller, rubric, judges, conv, item["response"], sampling=sampling, owner=owner,
                            history=item.get("history"))
            return {"score": g.score}

    return list(await asyncio.gather(*(one(it) for it in items)))


def build_report(kind: str, rubric: Rubric, items: list[dict[str, Any]], verdicts: list[dict[str, Any]], folds: int,
                 seed: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(report, mapping). Items the panel left unscored are excluded and counted."""
    boot = BootstrapConfig(seed=seed, n_resamples=1000)
    raters, matrix = _human_matrix(items)
    lo, hi = rubric.scale()
    labels = list(range(lo, hi + 1))
    report: dict[str, Any] = {"kind": kind, "n_items": len(items), "raters": raters}
    if len(raters) >= 2:
        ceiling = rater_agreement(matrix, kind, labels=labels if kind != "pairwise" else None, bootstrap=boot)
        report["human_ceiling"] = _jsonable(ceiling) | {"rater_names": raters}
    else:
        report["human_ceiling"] = None
        report["human_ceiling_reason"] = "needs at least two raters"
    keep = [i for i, v in enumerate(verdicts) if (v.get("score") if kind != "pairwise" else v.get("prob_a")) is not None]
    report["n_scored"] = len(keep)
    report["n_unscored"] = len(items) - len(keep)
    if kind == "pairwise":
        gold = [_majority_vote([str(v) for v in items[i]["ratings"].values()]) for i in keep]
        prob_a = np.array([verdicts[i]["prob_a"] for i in keep])
        judge_votes = [verdicts[i]["winner"] for i in keep]
        report["judge_vs_human"] = _jsonable(pairwise_agreement(judge_votes, gold, bootstrap=boot))
        tie = fit_tie_threshold(prob_a, gold, folds=folds, seed=seed)
        report["calibration"] = _jsonable(tie)
        after = predict_votes(prob_a, tie.threshold)
        report["judge_vs_human_after_threshold_in_sample"] = _jsonable(pairwise_agreement(list(after), gold, bootstrap=boot))
        return report, {"kind": "tie_threshold", "threshold": tie.threshold}
    human = np.array([np.nanmean([float(v) for v in items[i]["ratings"].values()]) for i in keep])
    judge = np.array([verdicts[i]["score"] for i in keep])
    report["judge_vs_human"] = _jsonable(score_agreement(judge, human, bootstrap=boot))
    cal = calibrate_scores(judge, human, folds=folds, seed=seed)
    report["calibration"] = _jsonable(cal)
    return report, dict(cal.mapping.to_json())


async def execute(ctx: AppContext, cal_id: str) -> None:
    def read(s: Session) -> tuple[dict[str, Any], dict[str, Any], str]:
        row = s.get(CalibrationRow, cal_id)
        assert row is not None  # the caller created it before scheduling this task
        rs = s.get(RatingSetRow, row.rating_set_id)
        assert rs is not None  # the foreign key; nothing deletes rating sets
        return dict(row.spec), rs.content, rs.kind

    spec, content, kind = await ctx.db.run(read)
    try:
        rubric = await ctx.verdicts.rubric(f"{spec['rubric']['name']}@{spec['rubric']['version']}")
        items = content["items"]
        for it in items:
            it["conversation"] = [("user", it["prompt"])] if "prompt" in it else [(m["role"], m["content"]) for m in it["messages"]]
        verdicts = await judge_items(ctx, cal_id, rubric, spec["judges"], kind, items, spec["samples"])
        # Bootstrap intervals and a K-fold fit take seconds: off the event loop.
        report, mapping = await asyncio.to_thread(build_report, kind, rubric, items, verdicts, spec["folds"], cal_id)
        status, error = "done", None
    except asyncio.CancelledError:
        raise
    except Exception as e:  # reported on the calibration; nothing else is affected
        log.exception("calibration %s failed", cal_id)
        report, mapping, status, error = None, None, "failed", getattr(e, "message", str(e))

    def write(s: Session) -> None:
        row = s.get(CalibrationRow, cal_id)
        assert row is not None  # read above; nothing deletes calibrations
        row.status, row.report, row.mapping, row.error = status, report, mapping, error

    await ctx.db.run(write)
