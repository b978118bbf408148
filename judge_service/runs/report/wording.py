"""The wording section of a run over several rubric variants, and the widening of its intervals.

The panel's figures pool judges × variants. Variants are crossed with items (every item is judged
under every wording), not nested in them: an item's value is its mean over the variants, and the
item-sampling interval is made from those values exactly as for a run over one wording (so a run
whose wordings agree gets the interval a one-wording run gets). The item bootstrap resamples items,
so a shift one wording gives every item is invisible to it; treating the variants as a sample of
wordings, the variance of the mean over V variants gains τ²/V (``stats/wording.py``). Here: per figure, each variant's own figure
(one rubric hash each, never mixed), τ², the widened interval, and the share of its width that
comes from wording. Length- and style-controlled win rates take the τ² of the raw preferences (the
controlled model is refitted on the same preferences; the wording shift passes through it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from collections import defaultdict

from judge_service.runs.report.absolute import difference_units, paired
from judge_service.runs.report.inputs import VARIANT_STRIDE, AbsoluteRecord, PairwiseRecord, ReportOptions
from judge_service.runs.report.pairwise import item_estimate, item_units
from judge_service.runs.report.tree import AbsoluteSummary, PairwiseSummary
from judge_service.stats.estimate import Estimate
from judge_service.stats.wording import WideningResult, WordingVariance, widen_for_wording, wording_variance


@dataclass(frozen=True)
class WordingFigure:
    figure: str  # "win_rate" | "score_difference"
    per_variant: dict[str, Estimate]
    widening: WideningResult

    def to_dict(self) -> dict[str, Any]:
        w = self.widening
        return {
            "figure": self.figure,
            "per_variant": {v: e.to_dict() for v, e in self.per_variant.items()},
            "items_only": w.items_only.to_dict(),
            "with_wording": w.estimate.to_dict(),
            "wording_variance": w.wording.tau2,
            "share_of_width_from_wording": w.share_of_width_from_wording,
        }


@dataclass(frozen=True)
class WordingSection:
    variants: list[str]
    figures: list[WordingFigure]

    def to_dict(self) -> dict[str, Any]:
        return {"variants": list(self.variants), "figures": [f.to_dict() for f in self.figures],
                "note": "figures per variant use one rubric hash each; the pooled figures' intervals include the "
                        "variance across these wordings (items_only: without it)"}

    def figure(self, name: str) -> WordingFigure | None:
        return next((f for f in self.figures if f.figure == name), None)


def variants_of(pairwise: Sequence[PairwiseRecord], absolute: Sequence[AbsoluteRecord]) -> list[str]:
    seen: dict[str, None] = {}
    for r in pairwise:
        seen.setdefault(r.variant, None)
    for a in absolute:
        seen.setdefault(a.variant, None)
    return list(seen)


def _matrix(per_variant_units: dict[str, dict[str, list[float]]], variants: list[str]) -> np.ndarray:
    items = sorted(set().union(*(set(u) for u in per_variant_units.values())))
    m = np.full((len(items), len(variants)), np.nan)
    for v, variant in enumerate(variants):
        for i, item in enumerate(items):
            got = per_variant_units[variant].get(item)
            if got:
                m[i, v] = float(np.mean(got))
    return m


def _over_variants_pairwise(records: Sequence[PairwiseRecord]) -> dict[str, list[float]]:
    """item -> per-judge-sample values averaged over every judge, order and variant."""
    return item_units([dataclasses.replace(r, sample_index=r.sample_index % VARIANT_STRIDE) for r in records])


def _over_variants_absolute(records: Sequence[AbsoluteRecord]) -> dict[str, list[float]]:
    """item -> per-judge-sample differences, paired within (judge, variant, sample), averaged over them."""
    grouped: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for variant in variants_of([], records):
        for item, per_sample in difference_units([r for r in records if r.variant == variant], None).items():
            for at, value in enumerate(per_sample):
                grouped[item][at].append(value)
    return {item: [float(np.mean(v)) for _, v in sorted(s.items())] for item, s in grouped.items()}


def _clip(e: Estimate, low: float, high: float) -> Estimate:
    return dataclasses.replace(e, ci_low=None if e.ci_low is None else max(low, e.ci_low),
                               ci_high=None if e.ci_high is None else min(high, e.ci_high))


def wording_section(pairwise: Sequence[PairwiseRecord], absolute: Sequence[AbsoluteRecord],
                    pair: PairwiseSummary | None, abs_summary: AbsoluteSummary | None,
                    options: ReportOptions) -> WordingSection | None:
    variants = variants_of(pairwise, absolute)
    if len(variants) < 2:
        return None
    figures: list[WordingFigure] = []
    if pair is not None:
        units = {v: item_units([r for r in pairwise if r.variant == v]) for v in variants}
        per = {v: e for v in variants if (e := item_estimate(units[v], options, f"wording/win_rate/{v}")) is not None}
        pooled = item_estimate(_over_variants_pairwise(pairwise), options, "win_rate")
        assert pooled is not None  # pair is not None: some call was scored
        pooled = dataclasses.replace(pooled, p_value=pair.win_rate.p_value)
        widened = widen_for_wording(pooled, wording_variance(_matrix(units, variants)), options.confidence)
        figures.append(WordingFigure("win_rate", per, dataclasses.replace(
            widened, estimate=_clip(widened.estimate, 0.0, 1.0))))
    if abs_summary is not None and abs_summary.score_difference is not None:
        units = {v: difference_units([r for r in absolute if r.variant == v], None) for v in variants}
        per = {}
        for v in variants:
            d = paired(units[v], options, f"wording/score/{v}")
            if d is not None:
                per[v] = d.difference
        pooled_diff = paired(_over_variants_absolute(absolute), options, "score")
        assert pooled_diff is not None  # score_difference exists: some item is paired
        widened = widen_for_wording(pooled_diff.difference, wording_variance(_matrix(units, variants)),
                                    options.confidence)
        figures.append(WordingFigure("score_difference", per, widened))
    return WordingSection(variants, figures)


def _widen_with(e: Estimate, variance: WordingVariance, confidence: float, bounds: tuple[float, float] | None) -> Estimate:
    out = widen_for_wording(e, variance, confidence).estimate
    return _clip(out, *bounds) if bounds else out


def apply_wording(pair: PairwiseSummary | None, abs_summary: AbsoluteSummary | None, section: WordingSection | None,
                  options: ReportOptions) -> tuple[PairwiseSummary | None, AbsoluteSummary | None]:
    """The summaries with their headline intervals widened by the variance across wordings."""
    if section is None:
        return pair, abs_summary
    win = section.figure("win_rate")
    if pair is not None and win is not None:
        tau = win.widening.wording
        lc = pair.length_controlled
        lc = dataclasses.replace(lc, raw=win.widening.estimate,
                                 controlled=_widen_with(lc.controlled, tau, options.confidence, (0.0, 1.0)))
        sc = pair.style_controlled
        if sc is not None:
            sc = dataclasses.replace(sc, raw=win.widening.estimate,
                                     controlled=_widen_with(sc.controlled, tau, options.confidence, (0.0, 1.0)))
        pair = dataclasses.replace(pair, win_rate=win.widening.estimate, length_controlled=lc, style_controlled=sc)
    score = section.figure("score_difference")
    if abs_summary is not None and abs_summary.score_difference is not None and score is not None:
        abs_summary = dataclasses.replace(abs_summary, score_difference=dataclasses.replace(
            abs_summary.score_difference, difference=score.widening.estimate))
    return pair, abs_summary
