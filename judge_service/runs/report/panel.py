"""The panel: per-judge breakdown, self-preference flags, and agreement between judges.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from judge_service.bias.position import position_bias
from judge_service.errors import InvalidInput
from judge_service.runs.report.absolute import difference_units, paired
from judge_service.runs.report.inputs import SYSTEMS, TIE_TOLERANCE, AbsoluteRecord, PairwiseRecord, ReportOptions
from judge_service.runs.report.pairwise import item_estimate, item_units
from judge_service.runs.report.tree import Agreement, JudgeBreakdown
from judge_service.stats.agreement import krippendorff_alpha


def self_preference_flags(judges: Sequence[str], options: ReportOptions) -> list[dict[str, str]]:
    flags = []
    for judge in judges:
        family = options.judge_families.get(judge)
        for system in SYSTEMS:
            if family is not None and options.system_families.get(system) == family:
                flags.append({"judge": judge, "system": system, "family": family})
    return flags


def judge_breakdown(
    judge: str, pairwise: Sequence[PairwiseRecord], absolute: Sequence[AbsoluteRecord], options: ReportOptions,
    flags: list[dict[str, str]], excluded: list[str],
) -> JudgeBreakdown:
    mine_p = [r for r in pairwise if r.judge == judge]
    mine_a = [r for r in absolute if r.judge == judge]
    position = (
        position_bias(mine_p, confidence=options.confidence, n_resamples=options.n_resamples,
                      seed=f"{options.seed}/position/{judge}")
        if mine_p else None
    )
    diff = paired(difference_units(mine_a, None), options, f"judge/{judge}/score")
    return JudgeBreakdown(
        judge=judge,
        family=options.judge_families.get(judge),
        win_rate=item_estimate(item_units(mine_p), options, f"judge/{judge}/win_rate"),
        position=position,
        score_difference=diff.difference if diff else None,
        n_pairwise_calls=len(mine_p),
        n_absolute_records=len(mine_a),
        unscored=sum(r.winner is None for r in mine_p) + sum(r.score is None for r in mine_a),
        self_preferring_for=[f["system"] for f in flags if f["judge"] == judge],
        excluded=judge in excluded,
    )


def panel_agreement(pairwise: Sequence[PairwiseRecord], absolute: Sequence[AbsoluteRecord], judges: list[str]) -> Agreement:
    notes: list[str] = []
    pair_alpha = abs_alpha = None
    pair_judges = sorted({r.judge for r in pairwise})
    if len(pair_judges) >= 2:
        per_judge = {j: item_units([r for r in pairwise if r.judge == j]) for j in pair_judges}
        item_ids = sorted(set().union(*per_judge.values()))
        matrix = np.full((len(pair_judges), len(item_ids)), np.nan)
        for a, j in enumerate(pair_judges):
            for u, item in enumerate(item_ids):
                if item in per_judge[j]:
                    pref = np.mean(per_judge[j][item])
                    # The judge's verdict on the item after both orders: who won, or a tie.
                    matrix[a, u] = 1.0 if pref > 0.5 + TIE_TOLERANCE else 0.0 if pref < 0.5 - TIE_TOLERANCE else 0.5
        pair_alpha = _alpha_or_note(matrix, "ordinal", "pairwise", notes)
    elif pairwise:
        notes.append("pairwise: one judge; agreement needs a panel of two or more")
    abs_judges = sorted({r.judge for r in absolute})
    if len(abs_judges) >= 2:
        sums: dict[tuple[str, str, str], list[float]] = defaultdict(list)
        for r in absolute:
            if r.score is not None:
                sums[(r.judge, r.item_id, r.system)].append(r.score)
        units = sorted({(item, system) for (_, item, system) in sums})
        matrix = np.full((len(abs_judges), len(units)), np.nan)
        for a, j in enumerate(abs_judges):
            for u, (item, system) in enumerate(units):
                if (j, item, system) in sums:
                    matrix[a, u] = float(np.mean(sums[(j, item, system)]))
        abs_alpha = _alpha_or_note(matrix, "interval", "absolute", notes)
    elif absolute:
        notes.append("absolute: one judge; agreement needs a panel of two or more")
    return Agreement(pair_alpha, abs_alpha, len(judges), notes)


def _alpha_or_note(matrix: np.ndarray, level: str, label: str, notes: list[str]) -> float | None:
    try:
        alpha = float(krippendorff_alpha(matrix, level))
    except InvalidInput as exc:
        notes.append(f"{label}: alpha undefined ({exc.message})")
        return None
    return alpha if np.isfinite(alpha) else None
