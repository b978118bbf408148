"""The absolute section: paired score differences (overall and per criterion) and length adjustment.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

import numpy as np

from judge_service.bias.length import length_adjusted_difference
from judge_service.runs.report.inputs import AbsoluteRecord, ItemInfo, ReportOptions
from judge_service.runs.report.tree import AbsoluteSummary
from judge_service.stats.inference import (
    PairedDifference, clustered_paired_difference, paired_difference_from_diffs,
)


def difference_units(records: Sequence[AbsoluteRecord], criterion: str | None) -> dict[str, list[float]]:
    """item -> per-sample means of (candidate − baseline), paired within (judge, sample)."""
    cells: dict[tuple[str, str, int], dict[str, float]] = defaultdict(dict)
    for r in records:
        if r.score is None:
            continue
        value = r.score if criterion is None else r.criteria.get(criterion)
        if value is not None:
            cells[(r.item_id, r.judge, r.sample_index)][r.system] = float(value)
    grouped: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for (item_id, _, sample), by_system in cells.items():
        if len(by_system) == 2:
            grouped[item_id][sample].append(by_system["candidate"] - by_system["baseline"])
    return {item: [float(np.mean(v)) for _, v in sorted(s.items())] for item, s in grouped.items()}


def paired(units: dict[str, list[float]], options: ReportOptions, seed: str) -> PairedDifference | None:
    if not units:
        return None
    groups = list(units.values())
    confidence, n_resamples, full_seed = options.confidence, options.n_resamples, f"{options.seed}/{seed}"
    if max(len(g) for g in groups) > 1:
        return clustered_paired_difference(groups, confidence=confidence, n_resamples=n_resamples, seed=full_seed)
    return paired_difference_from_diffs([g[0] for g in groups], confidence=confidence, n_resamples=n_resamples,
                                        seed=full_seed)


def absolute_summary(
    records: Sequence[AbsoluteRecord], item_by_id: dict[str, ItemInfo], options: ReportOptions,
    length_fn: Callable[[str], float],
) -> AbsoluteSummary | None:
    if not records:
        return None
    overall_units = difference_units(records, None)
    criteria_names = sorted({c for r in records if r.score is not None for c in r.criteria})
    criteria = {}
    for name in criteria_names:
        diff = paired(difference_units(records, name), options, f"criterion/{name}")
        if diff is not None:
            criteria[name] = diff
    length = None
    ids = sorted(overall_units)
    item_differences = tuple(float(np.mean(overall_units[i])) for i in ids)
    if overall_units:
        length = length_adjusted_difference(
            item_differences,
            [item_by_id[i].candidate_text for i in ids], [item_by_id[i].baseline_text for i in ids],
            length_fn=length_fn, confidence=options.confidence, n_resamples=options.n_resamples,
            seed=f"{options.seed}/absolute_length",
        )
    return AbsoluteSummary(
        n_items=len(overall_units),
        n_unscored_records=sum(r.score is None for r in records),
        items_unpaired=len({r.item_id for r in records} - set(overall_units)),
        score_difference=paired(overall_units, options, "score"),
        criteria=criteria,
        length=length,
        item_differences=item_differences,
    )
