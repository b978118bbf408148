"""Paired tests of tuned against base on the same documents. Pure: arrays in, dataclasses out.

Differences are tuned − base on the metric's own scale (orientation is applied later, in
``decisions``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from judge_service.stats.estimate import Estimate, rng_from_seed


@dataclass(frozen=True)
class McNemarResult:
    """Exact McNemar on binary outcomes. ``base_only``: base right, tuned wrong; ``tuned_only``: the reverse."""

    difference: Estimate  # tuned − base accuracy; CI Agresti–Min, p exact McNemar
    base_only: int
    tuned_only: int
    both: int
    neither: int
    se: float


def mcnemar_exact(base: Sequence[float], tuned: Sequence[float], confidence: float = 0.95) -> McNemarResult:
    """Exact McNemar: under H0 the discordant pairs split 50/50, so p is a two-sided binomial test on
    min(b, c) of b + c (what statsmodels' ``mcnemar(exact=True)`` computes). The CI adds ½ to every
    cell before the Wald interval (Agresti & Min 2005), which keeps coverage near nominal when
    discordant pairs are few."""
    b_arr, t_arr = np.asarray(base, dtype=float), np.asarray(tuned, dtype=float)
    n = len(b_arr)
    b = int(np.sum((b_arr == 1) & (t_arr == 0)))
    c = int(np.sum((b_arr == 0) & (t_arr == 1)))
    both = int(np.sum((b_arr == 1) & (t_arr == 1)))
    neither = n - b - c - both
    p = 1.0 if b + c == 0 else min(1.0, 2.0 * float(stats.binom.cdf(min(b, c), b + c, 0.5)))
    diff = (c - b) / n if n else math.nan
    bb, cc, nn = b + 0.5, c + 0.5, n + 2.0
    d_adj = (cc - bb) / nn
    se_adj = math.sqrt(max(((bb + cc) / nn - d_adj ** 2) / nn, 0.0))
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    se = math.sqrt(max(((b + c) / n - diff ** 2) / n, 0.0)) if n else math.nan
    est = Estimate(diff, max(-1.0, d_adj - z * se_adj), min(1.0, d_adj + z * se_adj), n, p_value=p,
                   method="mcnemar-exact / agresti-min")
    return McNemarResult(est, b, c, both, neither, se)


@dataclass(frozen=True)
class BootstrapResult:
    difference: Estimate  # mean(tuned − base); percentile CI; p from the bootstrap
    se: float  # sd of the bootstrap distribution
    wilcoxon_p: float | None  # signed-rank test as a robustness column (None when every pair ties)


def paired_bootstrap(base: Sequence[float], tuned: Sequence[float], *, seed: str, n_resamples: int = 2000,
                     confidence: float = 0.95) -> BootstrapResult:
    """Resample documents with replacement and recompute the mean difference. p is twice the smaller
    tail of the bootstrap distribution on either side of 0 (a percentile-inversion test)."""
    d = np.asarray(tuned, dtype=float) - np.asarray(base, dtype=float)
    n = len(d)
    rng = rng_from_seed(seed)
    boots = _resampled_means(d, n_resamples, rng)
    alpha = 1 - confidence
    low, high = np.quantile(boots, [alpha / 2, 1 - alpha / 2])
    tail = min(float(np.mean(boots <= 0)), float(np.mean(boots >= 0)))
    p = min(1.0, 2 * tail) if np.any(d != 0) else 1.0
    wp: float | None = None
    if np.any(d != 0):
        wp = float(stats.wilcoxon(d).pvalue)
    est = Estimate(float(d.mean()), float(low), float(high), n, p_value=p, method="paired bootstrap (percentile)")
    return BootstrapResult(est, float(boots.std(ddof=1)), wp)


def stratified_bootstrap(strata: Sequence[tuple[Sequence[float], Sequence[float]]], weights: Sequence[float], *,
                         seed: str, n_resamples: int = 2000, confidence: float = 0.95) -> BootstrapResult:
    """A group's difference (MMLU over its subtasks): resample documents within each subtask, then
    combine subtask mean differences with ``weights`` (lm-eval's ``aggregate_subtask_metrics`` weights
    by subtask size when ``weight_by_size`` is true, its default)."""
    rng = rng_from_seed(seed)
    w = np.asarray(weights, dtype=float) / float(np.sum(weights))
    total = np.zeros(n_resamples)
    point = 0.0
    n_all = 0
    for (b, t), wk in zip(strata, w):
        d = np.asarray(t, dtype=float) - np.asarray(b, dtype=float)
        n_all += len(d)
        point += wk * float(d.mean())
        total += wk * _resampled_means(d, n_resamples, rng)
    alpha = 1 - confidence
    low, high = np.quantile(total, [alpha / 2, 1 - alpha / 2])
    tail = min(float(np.mean(total <= 0)), float(np.mean(total >= 0)))
    est = Estimate(point, float(low), float(high), n_all, p_value=min(1.0, 2 * tail),
                   method="stratified bootstrap (percentile)")
    return BootstrapResult(est, float(total.std(ddof=1)), None)


def _resampled_means(d: np.ndarray, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap means in chunks, so HellaSwag's 10k docs × 2000 resamples never hold 160 MB of indices."""
    n = len(d)
    chunk = max(1, 2_000_000 // max(n, 1))
    out = np.empty(n_resamples)
    for start in range(0, n_resamples, chunk):
        stop = min(n_resamples, start + chunk)
        out[start:stop] = d[rng.integers(0, n, size=(stop - start, n))].mean(axis=1)
    return out


def is_binary(values: Sequence[float]) -> bool:
    return all(v in (0.0, 1.0) for v in values)
