"""Position bias of a pairwise judge, measured from runs that show both orders.

Two numbers per judge:
- position consistency: the share of (item, sample) pairs whose two orders gave the same
  candidate/baseline/tie verdict. A judge that reads content gives 1; a coin gives ~1/3 with
  ties, 1/2 without; a judge that always picks the first slot gives 0.
- first-position share: the share of scored, non-tie calls whose chosen answer was the one
  shown first. 0.5 = no positional preference. Ties choose no position, so they are left out
  of this share (and counted).

CIs resample items (the calls of one item share its content, so they are not independent):
each share is a ratio of per-item counts, re-estimated on every bootstrap resample of items.

Pure functions over verdict records; no I/O.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from scipy import stats

from judge_service.errors import InvalidInput
from judge_service.stats.inference import Estimate, bootstrap_index_ci

# "AB": the baseline is shown first (position A); "BA": the candidate is shown first.
FIRST_SHOWN = {"AB": "baseline", "BA": "candidate"}
VERDICTS = ("candidate", "baseline", "tie")


class PairwiseVerdict(Protocol):
    """What this module needs from a stored pairwise call (runs.report.PairwiseRecord fits)."""

    @property
    def item_id(self) -> str: ...
    @property
    def judge(self) -> str: ...
    @property
    def order(self) -> str: ...
    @property
    def sample_index(self) -> int: ...
    @property
    def winner(self) -> str | None: ...


@dataclass(frozen=True)
class PositionBias:
    position_consistency: Estimate | None  # n = (item, sample) pairs with both orders scored
    first_position_share: Estimate | None  # n = scored non-tie calls; p_value: binomial test vs 0.5
    n_pairs: int
    n_scored_calls: int
    n_ties: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "position_consistency": self.position_consistency.to_dict() if self.position_consistency else None,
            "first_position_share": self.first_position_share.to_dict() if self.first_position_share else None,
            "n_pairs": self.n_pairs,
            "n_scored_calls": self.n_scored_calls,
            "n_ties": self.n_ties,
        }


def chosen_position(order: str, winner: str) -> str | None:
    """'first' or 'second' for the slot the judge picked; None for a tie."""
    if order not in FIRST_SHOWN:
        raise InvalidInput(f"order must be 'AB' or 'BA' (got {order!r})", field="order")
    if winner not in VERDICTS:
        raise InvalidInput(f"winner must be one of {', '.join(VERDICTS)} (got {winner!r})", field="winner")
    if winner == "tie":
        return None
    return "first" if FIRST_SHOWN[order] == winner else "second"


def position_bias(
    records: Iterable[PairwiseVerdict],
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: str,
) -> PositionBias:
    """Position consistency and first-position share over ``records`` (unscored calls skipped).

    Pass one judge's records for a per-judge figure; several judges' for a pooled one (pairs
    are then matched within each judge).
    """
    verdicts: dict[tuple[str, str, int], dict[str, str]] = defaultdict(dict)
    first_by_item: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # item -> [first, non-tie calls]
    n_scored = n_ties = 0
    for record in records:
        if record.winner is None:
            continue
        slot = chosen_position(record.order, record.winner)
        n_scored += 1
        if slot is None:
            n_ties += 1
        else:
            counts = first_by_item[record.item_id]
            counts[0] += slot == "first"
            counts[1] += 1
        verdicts[(record.item_id, record.judge, record.sample_index)][record.order] = record.winner

    same_by_item: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # item -> [consistent, pairs]
    for (item_id, _, _), by_order in verdicts.items():
        if len(by_order) == 2:
            counts = same_by_item[item_id]
            counts[0] += by_order["AB"] == by_order["BA"]
            counts[1] += 1

    consistency = _ratio_estimate(same_by_item, confidence, n_resamples, f"{seed}/consistency")
    first = _ratio_estimate(first_by_item, confidence, n_resamples, f"{seed}/first")
    if first is not None:
        k = int(sum(c[0] for c in first_by_item.values()))
        # Treats calls as independent; an unbiased, content-driven judge's two orders pick
        # opposite slots, which makes this test conservative rather than anti-conservative.
        p = float(stats.binomtest(k, first.n, 0.5).pvalue)
        first = Estimate(first.estimate, first.ci_low, first.ci_high, first.n, p)
    n_pairs = int(sum(c[1] for c in same_by_item.values()))
    return PositionBias(consistency, first, n_pairs, n_scored, n_ties)


def position_bias_by_judge(
    records: Iterable[PairwiseVerdict],
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: str,
) -> dict[str, PositionBias]:
    """``position_bias`` for each judge separately, keyed by judge name (sorted)."""
    by_judge: dict[str, list[PairwiseVerdict]] = defaultdict(list)
    for record in records:
        by_judge[record.judge].append(record)
    return {
        judge: position_bias(rs, confidence=confidence, n_resamples=n_resamples, seed=f"{seed}/{judge}")
        for judge, rs in sorted(by_judge.items())
    }


def _ratio_estimate(
    counts_by_item: dict[str, list[int]], confidence: float, n_resamples: int, seed: str
) -> Estimate | None:
    rows = np.array([c for c in counts_by_item.values() if c[1] > 0], dtype=float).reshape(-1, 2)
    if rows.shape[0] == 0:
        return None
    hits, totals = rows[:, 0], rows[:, 1]
    point = float(hits.sum() / totals.sum())

    def ratio(index: np.ndarray) -> np.ndarray:
        share: np.ndarray = hits[index].sum(axis=-1) / totals[index].sum(axis=-1)
        return share

    low, high = bootstrap_index_ci(ratio, rows.shape[0], confidence=confidence, n_resamples=n_resamples, seed=seed)
    return Estimate(point, low, high, int(totals.sum()))
