"""The pairwise section: item soft preferences, raw and per-order win rates, length control, position.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

import numpy as np

from judge_service.bias.length import LengthControlledWinRate, length_controlled_win_rate
from judge_service.bias.probes import MIN_PROBE_GROUPS, ProbeRow, probe_pinned_win_rate
from judge_service.bias.position import position_bias
from judge_service.runs.report.inputs import (
    ORDERS, TIE_TOLERANCE, WINNER_VALUE, ItemInfo, PairwiseRecord, ReportOptions,
)
from judge_service.runs.report.tree import HardVotes, PairwiseSummary
from judge_service.stats.estimate import Estimate
from judge_service.stats.inference import bootstrap_mean, clustered_bootstrap_mean, sign_test


def call_value(record: PairwiseRecord) -> float | None:
    """P(candidate better) for one call: its probability, else its winner as 1/0.5/0."""
    if record.winner is None:
        return None
    return record.prob_candidate if record.prob_candidate is not None else WINNER_VALUE[record.winner]


def item_units(records: Sequence[PairwiseRecord]) -> dict[str, list[float]]:
    """item -> per-sample-index means of its scored calls (all judges, both orders)."""
    grouped: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        value = call_value(r)
        if value is not None:
            grouped[r.item_id][r.sample_index].append(value)
    return {item: [float(np.mean(v)) for _, v in sorted(samples.items())] for item, samples in grouped.items()}


def item_estimate(units: dict[str, list[float]], options: ReportOptions, seed: str) -> Estimate | None:
    if not units:
        return None
    groups = list(units.values())
    confidence, n_resamples, full_seed = options.confidence, options.n_resamples, f"{options.seed}/{seed}"
    if max(len(g) for g in groups) > 1:
        return clustered_bootstrap_mean(groups, confidence=confidence, n_resamples=n_resamples, seed=full_seed)
    return bootstrap_mean([g[0] for g in groups], confidence=confidence, n_resamples=n_resamples, seed=full_seed)


def pairwise_summary(
    records: Sequence[PairwiseRecord], item_by_id: dict[str, ItemInfo], options: ReportOptions,
    length_fn: Callable[[str], float], probes: Sequence[ProbeRow] = (),
) -> PairwiseSummary | None:
    """``probes``: length-probe rows (pooled over the kept judges); with enough of them the length slope
    is pinned by them (bias/probes.py)."""
    if not records:
        return None
    units = item_units(records)
    n_unscored = sum(r.winner is None for r in records)
    if not units:
        return None  # every call unscored: build_report says so in warnings
    item_ids = sorted(units)
    prefs = np.array([np.mean(units[i]) for i in item_ids])
    wins = int(np.sum(prefs > 0.5 + TIE_TOLERANCE))
    losses = int(np.sum(prefs < 0.5 - TIE_TOLERANCE))
    ties = len(prefs) - wins - losses
    hard = hard_votes(records)
    raw = item_estimate(units, options, "win_rate")
    assert raw is not None  # units is non-empty here
    raw = Estimate(raw.estimate, raw.ci_low, raw.ci_high, raw.n, sign_test(wins, losses))
    by_order = {}
    for order in ORDERS:
        est = item_estimate(item_units([r for r in records if r.order == order]), options, f"win_rate/{order}")
        if est is not None:
            by_order[order] = est
    cand_texts = [item_by_id[i].candidate_text for i in item_ids]
    base_texts = [item_by_id[i].baseline_text for i in item_ids]
    pinned = len({p.group for p in probes}) >= MIN_PROBE_GROUPS
    probe_summary = None

    def controlled(style: bool, seed: str) -> LengthControlledWinRate:
        nonlocal probe_summary
        if pinned:
            fit, summary = probe_pinned_win_rate(prefs, cand_texts, base_texts, probes, style_control=style,
                                                 seed=f"{options.seed}/{seed}", length_fn=length_fn,
                                                 confidence=options.confidence, n_resamples=options.n_resamples,
                                                 raw=raw)
            if not style:
                probe_summary = summary
            return fit
        return length_controlled_win_rate(prefs, cand_texts, base_texts, style_control=style,
                                          seed=f"{options.seed}/{seed}", length_fn=length_fn,
                                          confidence=options.confidence, n_resamples=options.n_resamples, raw=raw)

    lc = controlled(False, "lc")
    sc = controlled(True, "sc") if options.style_control else None
    if probe_summary is not None:
        lc.warnings.extend(f"length probes: {w}" for w in probe_summary.warnings)
    if probes and not pinned:
        lc.warnings.append(f"length probes: only {len({p.group for p in probes})} probed answer(s) have a scored "
                           f"rewrite (needs {MIN_PROBE_GROUPS}); the length slope is not pinned")
    pooled = position_bias(records, confidence=options.confidence, n_resamples=options.n_resamples,
                           seed=f"{options.seed}/position")
    return PairwiseSummary(
        n_items=len(item_ids),
        n_scored_calls=len(records) - n_unscored,
        n_unscored_calls=n_unscored,
        items_without_scored_call=len({r.item_id for r in records} - set(units)),
        wins=wins, ties=ties, losses=losses,
        win_rate=raw,
        win_rate_by_order=by_order,
        length_controlled=lc,
        style_controlled=sc,
        position=pooled,
        item_preferences=tuple(float(v) for v in prefs),
        hard_votes=hard,
        length_probes=probe_summary,
    )


def hard_votes(records: Sequence[PairwiseRecord]) -> HardVotes:
    """The sign test on items' hard outcomes: each call's winner (probabilities ignored), averaged
    over the item's calls; an item is won, lost or tied by that mean. The decision rule needs it:
    soft probabilities near 0.5 with a small asymmetry can carry a narrow interval on their own."""
    values: dict[str, list[float]] = defaultdict(list)
    for r in records:
        if r.winner is not None:
            values[r.item_id].append(WINNER_VALUE[r.winner])
    means = np.array([np.mean(v) for v in values.values()]) if values else np.array([])
    wins = int(np.sum(means > 0.5 + TIE_TOLERANCE))
    losses = int(np.sum(means < 0.5 - TIE_TOLERANCE))
    return HardVotes(wins, int(means.size) - wins - losses, losses, sign_test(wins, losses))
