"""Imported judgments kept as an external judge of a run (FastChat's GPT-4 verdicts on MT-Bench, ...).

A run item may carry ``external_judgments``: verdicts another tool's judge already gave on it
(``runs/spec.py``). They become the report records of a judge named ``external:<name>``, so its win
rate, position consistency and score difference are computed by the very functions that compute
the service judges' (``runs/report/panel.judge_breakdown``), and they sit beside them in the
report's ``external_judges`` section, marked imported: never re-run, no cost.

Why beside and not in the verdict by default: the service's verdict is replayable (rubric hash,
prompt, raw reply per call); an imported verdict is not (we cannot see what its judge was shown,
under which prompt, or check its parse), so it should not move the decision unless the user says
so (``options.external_judges: "panel"``, when its records join the panel's in every figure).

The section also gives FastChat's own tally of the pair verdicts (``show_result.py``: a row with an
error in either game is dropped; a tie in either game or games that disagree count as a tie;
``win_rate_adjusted`` = (win + tie/2) / (win + loss + tie)), so the figure a user already knows
appears in the run's report unchanged. Pure; no I/O.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from judge_service.runs.report import WINNER_VALUE, AbsoluteRecord, PairwiseRecord, ReportOptions, item_units
from judge_service.runs.report.inputs import TIE_TOLERANCE
from judge_service.runs.report.panel import judge_breakdown
from judge_service.stats.agreement.bootstrap import BootstrapConfig
from judge_service.stats.agreement.pairwise import pairwise_agreement

PREFIX = "external:"


def _role(name: str | None, baseline: str, candidate: str) -> str | None:
    return {baseline: "baseline", candidate: "candidate", "tie": "tie"}.get(name) if name is not None else None


def external_records(items: Sequence[Mapping[str, Any]], baseline: str,
                     candidate: str) -> tuple[list[PairwiseRecord], list[AbsoluteRecord]]:
    """The items' imported verdicts as report records of judges ``external:<name>`` (one sample each)."""
    pairwise: list[PairwiseRecord] = []
    absolute: list[AbsoluteRecord] = []
    for item in items:
        iid = str(item["id"])
        for name, verdicts in sorted((item.get("external_judgments") or {}).items()):
            judge = PREFIX + name
            for order in verdicts.get("orders") or []:
                winner = _role(order.get("winner"), baseline, candidate)
                pairwise.append(PairwiseRecord(iid, judge, "AB" if order["first"] == baseline else "BA", 0, winner,
                                               None if winner is None else WINNER_VALUE[winner]))
            for system, score in sorted((verdicts.get("scores") or {}).items()):
                role = _role(system, baseline, candidate)
                if role is not None:
                    absolute.append(AbsoluteRecord(iid, judge, role, 0, score, {}))
    return pairwise, absolute


def _fastchat_tally(per_item: Mapping[str, Mapping[str, str | None]]) -> dict[str, Any]:
    win = loss = tie = errors = 0
    for orders in per_item.values():
        games = [orders.get("AB"), orders.get("BA")]
        if any(g is None for g in games):
            errors += 1
        elif games[0] != games[1] or "tie" in games:
            tie += 1
        elif games[0] == "candidate":
            win += 1
        else:
            loss += 1
    total = win + loss + tie
    return {"win": win, "loss": loss, "tie": tie, "dropped": errors,
            "win_rate_adjusted": (win + 0.5 * tie) / total if total else None,
            "rule": "FastChat show_result.py: rows with an error dropped; a tie in either game or games that "
                    "disagree count as a tie; win_rate_adjusted = (win + tie/2) / (win + loss + tie)"}


def _verdicts(records: Sequence[PairwiseRecord]) -> dict[str, str]:
    """item -> the verdict after both orders (all given judges pooled), as the panel's agreement reads it."""
    out = {}
    for item, samples in item_units(records).items():
        pref = float(np.mean(samples))
        out[item] = "B" if pref > 0.5 + TIE_TOLERANCE else "A" if pref < 0.5 - TIE_TOLERANCE else "tie"
    return out


def _agreement(external: Sequence[PairwiseRecord], panel: Sequence[PairwiseRecord],
               options: ReportOptions, judge: str) -> dict[str, Any] | None:
    """How often the imported judge and the service's panel reach the same item verdict (A = baseline)."""
    mine, theirs = _verdicts(external), _verdicts(panel)
    shared = sorted(set(mine) & set(theirs))
    if not shared:
        return None
    found = pairwise_agreement([mine[i] for i in shared], [theirs[i] for i in shared], bootstrap=BootstrapConfig(
        options.confidence, options.n_resamples, f"{options.seed}/external/{judge}/agreement"))
    return {"n": found.n, "accuracy": found.accuracy.to_dict(), "cohen_kappa": found.cohen_kappa.to_dict(),
            "against": "the service's judges pooled, each item's verdict after both orders"}


def external_report(items: Sequence[Mapping[str, Any]], baseline: str, candidate: str, options: ReportOptions, *,
                    in_panel: bool, panel: Sequence[PairwiseRecord] = ()) -> list[dict[str, Any]]:
    """One entry per external judge: the service's figures for it, FastChat's tally, its agreement with
    the service's judges (``panel``: their pairwise records), and its per-item verdicts."""
    pairwise, absolute = external_records(items, baseline, candidate)
    sources: dict[str, set[str]] = defaultdict(set)
    for item in items:
        for name, verdicts in (item.get("external_judgments") or {}).items():
            if verdicts.get("source"):
                sources[PREFIX + name].add(str(verdicts["source"]))
    order = [str(item["id"]) for item in items]  # the run's item order
    out = []
    for judge in sorted({r.judge for r in pairwise} | {r.judge for r in absolute}):
        mine_p = [r for r in pairwise if r.judge == judge]
        mine_a = [r for r in absolute if r.judge == judge]
        per_item: dict[str, dict[str, str | None]] = defaultdict(dict)
        for r in mine_p:
            per_item[r.item_id][r.order] = r.winner
        scores: dict[str, dict[str, float | None]] = defaultdict(dict)
        for a in mine_a:
            scores[a.item_id][a.system] = a.score
        both = [o for o in per_item.values() if o.get("AB") is not None and o.get("BA") is not None]
        consistent = sum(o["AB"] == o["BA"] for o in both)
        means = {}
        for role in ("baseline", "candidate"):
            values = [a.score for a in mine_a if a.system == role and a.score is not None]
            means[role] = math.fsum(values) / len(values) if values else None
        entry = judge_breakdown(judge, mine_p, mine_a, options, [], []).to_dict()
        entry.pop("excluded", None)
        entry.pop("informative", None)
        entry.pop("informativeness", None)
        entry |= {
            "imported": True, "re_run": False, "cost_usd": 0.0, "in_panel": in_panel,
            "sources": sorted(sources.get(judge, ())),
            "pair_consistency": {"n": len(both), "consistent": consistent,
                                 "rate": consistent / len(both) if both else None},
            "fastchat": _fastchat_tally(per_item) if per_item else None,
            "agreement_with_panel": _agreement(mine_p, panel, options, judge) if mine_p else None,
            "mean_scores": means if mine_a else None,
            "n_unparseable_scores": sum(a.score is None for a in mine_a),
            "items": [{"item_id": iid, "orders": dict(sorted(per_item.get(iid, {}).items())),
                       "consistent": (per_item[iid].get("AB") == per_item[iid].get("BA"))
                       if iid in per_item and None not in (per_item[iid].get("AB"), per_item[iid].get("BA")) else None,
                       "scores": scores.get(iid, {})}
                      for iid in order if iid in per_item or iid in scores],
        }
        out.append(entry)
    return out
