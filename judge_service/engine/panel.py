"""Aggregating several judges (and several samples of one judge) into one verdict.

Absolute: the panel score is the mean of the judges' scores. Pairwise: the winner is the
majority of the judges' reconciled winners (a tie when no label has a majority), prob_a the
mean of their probabilities. The spread between judges is always reported, because a panel
that disagrees is itself a finding.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Spread:
    n: int
    mean: float | None
    stdev: float | None
    min: float | None
    max: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "mean": self.mean, "stdev": self.stdev, "min": self.min, "max": self.max}


def spread(values: list[float]) -> Spread:
    if not values:
        return Spread(0, None, None, None, None)
    return Spread(
        n=len(values),
        mean=statistics.fmean(values),
        stdev=statistics.stdev(values) if len(values) > 1 else 0.0,
        min=min(values),
        max=max(values),
    )


def majority(labels: list[str]) -> str:
    """Strict majority label; 'tie' when none (a split panel has not decided)."""
    if not labels:
        return "tie"
    label, count = Counter(labels).most_common(1)[0]
    return label if count * 2 > len(labels) else "tie"


def mean_or_none(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None
