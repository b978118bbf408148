"""Inference for "did the candidate beat the baseline?": estimates with a CI and an n.

Arrays in, small dataclasses out; no I/O. Every random draw comes from a Generator seeded
from a string (``rng_from_seed``), never from global state, so a report is replayable.

CI method. Item-level bootstraps go through ``scipy.stats.bootstrap`` with **BCa**: it
corrects the percentile interval for bias and skew of the bootstrap distribution, which
matters for win rates away from 0.5 and for the small n (tens of items) users do run
(Efron & Tibshirani 1993, ch. 14). When BCa is undefined (a degenerate resample
distribution, e.g. every item has the same value) we fall back to the percentile interval.
The two-level (clustered) bootstrap is written here because scipy resamples one level only;
it uses the percentile interval, since BCa's jackknife acceleration has no standard
two-stage form.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from judge_service.errors import InvalidInput
# The one Estimate, seeding rule and non-finite policy; re-exported for modules that import them from here.
from judge_service.stats.estimate import Estimate as Estimate
from judge_service.stats.estimate import finite_or_none as finite_or_none
from judge_service.stats.estimate import rng_from_seed as rng_from_seed

# A statistic over resampled *item indices*: takes an int array of shape (..., m) and returns
# an array of shape (...). Indexing by item lets one resample carry several aligned columns
# (preference, length difference, style features) and lets a statistic refit a model.
IndexStatistic = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class PairedDifference:
    """Mean of paired differences (candidate − baseline) with a bootstrap CI and Wilcoxon p."""

    difference: Estimate  # difference.p_value is the Wilcoxon signed-rank p
    n_zero: int  # pairs with a difference of exactly 0 (dropped by Wilcoxon's 'wilcox' rule)
    note: str | None = None

    def to_dict(self) -> dict[str, float | int | str | None]:
        out = self.difference.to_dict() | {"n_zero_differences": self.n_zero}
        if self.note:
            out["note"] = self.note
        return out


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise InvalidInput(
            f"confidence must be strictly between 0 and 1 (got {confidence}); use e.g. 0.95",
            field="confidence",
        )


def _check_resamples(n_resamples: int) -> None:
    if n_resamples < 100:
        raise InvalidInput(
            f"n_resamples={n_resamples} is too few for a stable CI; use at least 100 (2000 is typical)",
            field="n_resamples",
        )


def bootstrap_index_ci(
    statistic: IndexStatistic,
    n: int,
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: str,
    batch: int | None = 250,
) -> tuple[float, float]:
    """BCa CI (percentile fallback) of ``statistic`` under resampling of ``n`` items.

    ``statistic`` receives int index arrays of shape (..., m) and returns shape (...); it is
    called on bootstrap resamples and on the jackknife leave-one-out sets BCa needs.
    """
    _check_confidence(confidence)
    _check_resamples(n_resamples)
    if n < 2:
        # One item has no sampling variability to resample; an honest CI is unbounded.
        return (-math.inf, math.inf)

    def vectorised(index: np.ndarray, axis: int = -1) -> np.ndarray:
        return statistic(np.moveaxis(np.asarray(index), axis, -1).astype(np.intp))

    data = (np.arange(n),)
    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            # BCa warns (and returns nan) on degenerate resample distributions: handled below.
            warnings.simplefilter("ignore", stats.DegenerateDataWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            result = stats.bootstrap(
                data,
                vectorised,
                vectorized=True,
                n_resamples=n_resamples,
                batch=batch,
                confidence_level=confidence,
                method=method,
                rng=rng_from_seed(seed),
            )
        low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
        if math.isfinite(low) and math.isfinite(high):
            return (low, high)
    # Every resample gave the same value (e.g. all items identical): the CI is that point.
    point = float(statistic(np.arange(n)[None, :])[0])
    return (point, point)


def bootstrap_mean(
    values: Sequence[float] | np.ndarray,
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: str,
) -> Estimate:
    """Mean of per-item values with a BCa bootstrap CI over items."""
    x = _as_finite_1d(values, "values")
    if x.size == 0:
        raise InvalidInput("no values to average; every item was unscored or filtered out", field="values")
    low, high = bootstrap_index_ci(
        lambda idx: x[idx].mean(axis=-1), x.size, confidence=confidence, n_resamples=n_resamples, seed=seed
    )
    return Estimate(float(x.mean()), low, high, int(x.size))


def clustered_bootstrap_mean(
    groups: Sequence[Sequence[float] | np.ndarray],
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: str,
) -> Estimate:
    """Mean of item means with a two-level bootstrap: items, then samples within each item.

    ``groups[i]`` holds item i's replicate values (e.g. one per judge sample). Each resample
    draws items with replacement and, inside every drawn item, its replicates with
    replacement, so the interval carries judge (replicate) noise as well as item sampling.
    This two-stage scheme slightly *over*-states variance — the item means already contain
    replicate noise (Davison & Hinkley 1997, §3.8) — so it is the conservative choice.
    Percentile interval; ``n`` counts items.
    """
    _check_confidence(confidence)
    _check_resamples(n_resamples)
    arrays = [_as_finite_1d(g, f"groups[{i}]") for i, g in enumerate(groups)]
    if not arrays:
        raise InvalidInput("no items to average; every item was unscored or filtered out", field="groups")
    if any(a.size == 0 for a in arrays):
        raise InvalidInput("every item needs at least one replicate value; drop empty items first", field="groups")
    n_items = len(arrays)
    sizes = np.array([a.size for a in arrays])
    width = int(sizes.max())
    padded = np.zeros((n_items, width))
    for i, a in enumerate(arrays):
        padded[i, : a.size] = a
    point = float(np.mean([a.mean() for a in arrays]))
    if n_items < 2:
        return Estimate(point, -math.inf, math.inf, n_items)

    rng = rng_from_seed(seed)
    columns = np.arange(width)
    draws = np.empty(n_resamples)
    chunk = max(1, 2_000_000 // (n_items * width))  # bound memory to ~16 MB per chunk
    for start in range(0, n_resamples, chunk):
        b = min(chunk, n_resamples - start)
        items = rng.integers(0, n_items, size=(b, n_items))
        k = sizes[items]  # (b, n_items)
        within = np.floor(rng.random((b, n_items, width)) * k[..., None]).astype(np.intp)
        picked = padded[items[..., None], within]
        mask = columns[None, None, :] < k[..., None]
        item_means = (picked * mask).sum(axis=-1) / k
        draws[start : start + b] = item_means.mean(axis=-1)
    alpha = 1.0 - confidence
    low, high = np.quantile(draws, [alpha / 2, 1 - alpha / 2])
    return Estimate(point, float(low), float(high), n_items)


def win_rate(outcomes: Sequence[float] | np.ndarray) -> float:
    """Share of wins with ties counted half; ``outcomes`` are 1 (win), 0.5 (tie), 0 (loss)."""
    x = _as_finite_1d(outcomes, "outcomes")
    if x.size == 0:
        raise InvalidInput("no outcomes to compute a win rate from", field="outcomes")
    if np.any((x < 0) | (x > 1)):
        raise InvalidInput("outcomes must lie in [0, 1] (1 win, 0.5 tie, 0 loss)", field="outcomes")
    return float(x.mean())


def sign_test(wins: int, losses: int) -> float:
    """Two-sided exact sign test p on non-tied items (ties carry no sign information)."""
    if wins < 0 or losses < 0:
        raise InvalidInput("wins and losses must be non-negative counts", field="wins")
    if wins + losses == 0:
        return 1.0  # no decided item: no evidence against equality
    return float(stats.binomtest(wins, wins + losses, 0.5, alternative="two-sided").pvalue)


def paired_difference(
    candidate: Sequence[float] | np.ndarray,
    baseline: Sequence[float] | np.ndarray,
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: str,
) -> PairedDifference:
    """Mean paired difference (candidate − baseline): bootstrap CI + Wilcoxon signed-rank p."""
    c = _as_finite_1d(candidate, "candidate")
    b = _as_finite_1d(baseline, "baseline")
    if c.shape != b.shape:
        raise InvalidInput(
            f"paired samples need equal lengths (candidate {c.size}, baseline {b.size}); pair by item first",
            field="baseline",
        )
    return paired_difference_from_diffs(c - b, confidence=confidence, n_resamples=n_resamples, seed=seed)


def paired_difference_from_diffs(
    differences: Sequence[float] | np.ndarray,
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: str,
) -> PairedDifference:
    d = _as_finite_1d(differences, "differences")
    if d.size == 0:
        raise InvalidInput("no paired items; both systems need a score on the same items", field="differences")
    n_zero = int(np.sum(d == 0))
    est = bootstrap_mean(d, confidence=confidence, n_resamples=n_resamples, seed=seed)
    if n_zero == d.size:
        # scipy returns p = 1 with a divide warning here; say plainly why instead.
        return PairedDifference(
            Estimate(est.estimate, est.ci_low, est.ci_high, est.n, 1.0),
            n_zero,
            "all differences are zero: the systems scored identically on every item",
        )
    p = float(stats.wilcoxon(d, zero_method="wilcox", alternative="two-sided").pvalue)
    return PairedDifference(Estimate(est.estimate, est.ci_low, est.ci_high, est.n, p), n_zero)


def clustered_paired_difference(
    groups: Sequence[Sequence[float] | np.ndarray],
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: str,
) -> PairedDifference:
    """Paired difference when each item has several replicate differences (judge samples).

    The estimate is the mean of item means with the two-level bootstrap CI of
    ``clustered_bootstrap_mean``; the Wilcoxon test runs on the item means, because items —
    not replicates — are the independent units.
    """
    est = clustered_bootstrap_mean(groups, confidence=confidence, n_resamples=n_resamples, seed=seed)
    item_means = np.array([np.mean(g) for g in groups], dtype=float)
    n_zero = int(np.sum(item_means == 0))
    if n_zero == item_means.size:
        return PairedDifference(
            Estimate(est.estimate, est.ci_low, est.ci_high, est.n, 1.0),
            n_zero,
            "all differences are zero: the systems scored identically on every item",
        )
    p = float(stats.wilcoxon(item_means, zero_method="wilcox", alternative="two-sided").pvalue)
    return PairedDifference(Estimate(est.estimate, est.ci_low, est.ci_high, est.n, p), n_zero)


def minimum_detectable_difference(sd: float, n: int, *, alpha: float = 0.05, power: float = 0.8) -> float:
    """MDE = (z_{1-α/2} + z_{power})·sd/√n: the smallest true difference a two-sided test at
    level α detects with the given power (normal approximation, e.g. Cohen 1988, ch. 2)."""
    _check_power_args(sd, alpha, power)
    if n < 1:
        raise InvalidInput("n must be at least 1 to compute a detectable difference", field="n")
    return float((stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)) * sd / math.sqrt(n))


def required_sample_size(sd: float, difference: float, *, alpha: float = 0.05, power: float = 0.8) -> int:
    """Smallest n whose MDE is at most ``difference``: n = ⌈((z_{1-α/2}+z_{power})·sd/Δ)²⌉."""
    _check_power_args(sd, alpha, power)
    if not difference > 0:
        raise InvalidInput(
            f"target difference must be positive (got {difference}); e.g. 0.05 for five win-rate points",
            field="target_difference",
        )
    z = float(stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power))
    return max(1, math.ceil((z * sd / difference) ** 2 - 1e-9))


def _check_power_args(sd: float, alpha: float, power: float) -> None:
    if not (math.isfinite(sd) and sd >= 0):
        raise InvalidInput(f"sd must be a finite non-negative number (got {sd})", field="sd")
    if not 0 < alpha < 1:
        raise InvalidInput(f"alpha must be in (0, 1) (got {alpha})", field="alpha")
    if not 0 < power < 1:
        raise InvalidInput(f"power must be in (0, 1) (got {power})", field="power")


def _as_finite_1d(values: Sequence[float] | np.ndarray, field: str) -> np.ndarray:
    x = np.asarray(values, dtype=float)
    if x.ndim != 1:
        raise InvalidInput(f"{field} must be a flat list of numbers", field=field)
    if not np.all(np.isfinite(x)):
        raise InvalidInput(f"{field} contains NaN or infinity; drop unscored items before computing", field=field)
    return x
