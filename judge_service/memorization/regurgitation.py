"""Regurgitation: how much of each output is copied from the training set, and base vs tuned.

Flags (token counts of the verified longest copied span, thresholds configurable):
``regurgitation`` ≥ 50 tokens, ``partial`` from 13 to 49, ``none`` below. Rates carry Wilson
intervals. Base vs tuned on the same prompts is a paired comparison: the difference of rates
(tuned − base) has Newcombe's hybrid-score interval for paired proportions (Newcombe 1998,
*Statistics in Medicine* 17:2635, method 10) and McNemar's exact test on the discordant pairs,
so "the fine-tune copies in 7.2% of answers vs 0.4% for base" comes with its uncertainty.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from judge_service.errors import InvalidInput
from judge_service.memorization.excerpts import Match, matches
from judge_service.memorization.index import OverlapIndex
from judge_service.memorization.spans import Overlap, exclusion_hashes, find_spans
from judge_service.stats.estimate import Estimate, undefined


@dataclass(frozen=True)
class Thresholds:
    regurgitation: int = 50
    partial: int = 13

    def check(self, n: int) -> None:
        if self.partial < n:
            raise InvalidInput(f"partial threshold {self.partial} is below the index's n-gram size {n}: spans shorter "
                               f"than {n} tokens are not looked for; use at least {n}", field="thresholds.partial")
        if self.regurgitation < self.partial:
            raise InvalidInput("the regurgitation threshold must be at least the partial one",
                               field="thresholds.regurgitation")

    def flag(self, longest: int) -> str:
        if longest >= self.regurgitation:
            return "regurgitation"
        return "partial" if longest >= self.partial else "none"


@dataclass(frozen=True)
class OutputToScreen:
    item_id: str
    output: str
    prompt: str | None = None
    reference: str | None = None


@dataclass(frozen=True)
class Screened:
    item_id: str
    overlap: Overlap
    flag: str
    matches: list[Match]


def screen(index: OverlapIndex, outputs: Sequence[OutputToScreen], thresholds: Thresholds = Thresholds(),
           exclude_echo: bool = True, max_matches: int = 5) -> list[Screened]:
    thresholds.check(index.options.n)
    screened = []
    for item in outputs:
        exclude = exclusion_hashes(index, [item.prompt, item.reference]) if exclude_echo else None
        overlap = find_spans(index, index.ids(item.output), exclude)
        screened.append(Screened(item.item_id, overlap, thresholds.flag(overlap.longest),
                                 matches(index, item.output, overlap.spans, max_matches)))
    return screened


def wilson(successes: int, n: int, confidence: float = 0.95) -> Estimate:
    """A proportion with its Wilson score interval (no continuity correction)."""
    if n == 0:
        return undefined(0, "no outputs to count")
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return Estimate(p, max(0.0, centre - half), min(1.0, centre + half), n, method="wilson")


def mcnemar_exact(only_tuned: int, only_base: int) -> float:
    """Two-sided exact McNemar p: a binomial test of the discordant pairs against 1/2."""
    discordant = only_tuned + only_base
    if discordant == 0:
        return 1.0
    return float(min(1.0, 2 * stats.binom.cdf(min(only_tuned, only_base), discordant, 0.5)))


@dataclass(frozen=True)
class PairedRates:
    base: Estimate
    tuned: Estimate
    difference: Estimate  # tuned − base; p_value: McNemar exact
    both: int
    only_tuned: int
    only_base: int
    neither: int


def paired_rates(base_flagged: Sequence[bool] | np.ndarray, tuned_flagged: Sequence[bool] | np.ndarray,
                 confidence: float = 0.95) -> PairedRates:
    base, tuned = np.asarray(base_flagged, dtype=bool), np.asarray(tuned_flagged, dtype=bool)
    if base.shape != tuned.shape:
        raise InvalidInput(f"{len(base)} base outputs but {len(tuned)} tuned ones; give one of each per prompt",
                           field="base_outputs")
    n = len(base)
    a, b = int((tuned & base).sum()), int((tuned & ~base).sum())
    c, d = int((~tuned & base).sum()), int((~tuned & ~base).sum())
    base_rate, tuned_rate = wilson(a + c, n, confidence), wilson(a + b, n, confidence)
    if n == 0:
        diff = undefined(0, "no prompts")
    else:
        diff = Estimate((b - c) / n, *_newcombe_paired(a, b, c, d, confidence), n, p_value=mcnemar_exact(b, c),
                        method="newcombe-paired; p: McNemar exact")
    return PairedRates(base_rate, tuned_rate, diff, a, b, c, d)


def _newcombe_paired(a: int, b: int, c: int, d: int, confidence: float) -> tuple[float, float]:
    """Newcombe's method 10: Wilson limits of each margin, combined with the phi correlation."""
    n = a + b + c + d
    p1, p2 = (a + b) / n, (a + c) / n
    w1, w2 = wilson(a + b, n, confidence), wilson(a + c, n, confidence)
    l1, u1 = float(w1.ci_low or 0.0), float(w1.ci_high or 1.0)
    l2, u2 = float(w2.ci_low or 0.0), float(w2.ci_high or 1.0)
    margins = (a + b) * (c + d) * (a + c) * (b + d)
    phi = (a * d - b * c) / math.sqrt(margins) if margins > 0 else 0.0
    diff = p1 - p2
    low = diff - math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    high = diff + math.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2))
    return max(-1.0, low), min(1.0, high)
