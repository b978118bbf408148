"""Rubric wording sensitivity: do rewordings of a rubric move the scores beyond the judges' own noise?

Pure: arrays in, small dataclasses out. The data of a pilot is a cube ``items × variants ×
samples`` (a sample is one repeat of the same call at temperature > 0; for pairs, one sample's
P(A better) averaged over the two orders). Two questions, two tests:

* **Is the rubric wording-sensitive?** With repeat samples (K ≥ 2) the judges' own noise is the
  spread of a cell's samples. Under "the wording does not matter", every variant's samples of an
  item come from one distribution, so the spread of the variant means of an item around the item
  mean is noise too. Their ratio is a two-way ANOVA F with replication (variant effect and
  variant × item interaction together against the within-cell error; Montgomery, *Design and
  Analysis of Experiments*, ch. 5): F = [K Σ_iv (m_iv − m_i)² / (n(V−1))] / [Σ (x_ivk − m_iv)² /
  (nV(K−1))] ~ F(n(V−1), nV(K−1)). Flag when p < alpha: the flag is then raised on a wording-
  insensitive rubric in about ``alpha`` of pilots (``tests/test_rubric_pilot_stats.py`` measures
  it). Without repeat samples the noise cannot be separated from item × wording interaction;
  the test falls back to the variants' mean shift against the item-to-item residual (two-way
  ANOVA without replication), and says so.
* **How much variance does wording add to an average over variants?** The between-variant
  variance component of the two-way random-effects model on item means (McGraw & Wong 1996,
  ICC(2,1)'s mean squares): τ² = max(0, (MS_variants − MS_residual) / n). The mean over V
  variants then carries τ² / V on top of the item-sampling variance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from judge_service.errors import InvalidInput
from judge_service.stats.estimate import Estimate

DEFAULT_ALPHA = 0.05


@dataclass(frozen=True)
class ScoreDistribution:
    """How one wording uses its scale, over every scored sample."""

    n: int
    mean: float | None
    sd: float | None
    histogram: dict[int, int]  # scale point -> samples whose (rounded) score is that point
    floor_share: float | None
    ceiling_share: float | None
    unused_points: list[int]


def score_distribution(scores: Sequence[float] | np.ndarray, scale: tuple[int, int]) -> ScoreDistribution:
    """Mean, sd (ddof=1), histogram over the scale's integer points, floor/ceiling share, unused points.

    Probability-weighted scores are fractional: each counts at its nearest scale point."""
    low, high = scale
    x = np.asarray(scores, dtype=float)
    x = x[np.isfinite(x)]
    points = list(range(low, high + 1))
    if x.size == 0:
        return ScoreDistribution(0, None, None, {p: 0 for p in points}, None, None, points)
    nearest = np.clip(np.rint(x), low, high).astype(int)
    histogram = {p: int(np.sum(nearest == p)) for p in points}
    return ScoreDistribution(
        n=int(x.size), mean=float(x.mean()), sd=float(x.std(ddof=1)) if x.size > 1 else None, histogram=histogram,
        floor_share=histogram[low] / x.size, ceiling_share=histogram[high] / x.size,
        unused_points=[p for p in points if histogram[p] == 0],
    )


@dataclass(frozen=True)
class WordingTest:
    """Whether the variants disagree beyond the judges' noise (see module docstring)."""

    sensitive: bool
    p_value: float | None
    f_statistic: float | None
    df: tuple[int, int] | None
    basis: str  # "repeat_samples" | "no_repeat_samples"
    alpha: float
    noise_sd: float | None  # the judges' own spread between repeat samples (None without repeats)
    wording_sd: float  # spread of an item's variant means around the item's mean
    n_items: int
    n_variants: int
    n_samples: int


def complete_cube(cube: np.ndarray) -> np.ndarray:
    """Only the items scored in every variant and sample (a balanced design, as the F test needs)."""
    data = np.asarray(cube, dtype=float)
    if data.ndim != 3:
        raise InvalidInput("wording data must be items × variants × samples", field="items")
    keep = np.all(np.isfinite(data), axis=(1, 2))
    return data[keep]


def wording_test(cube: np.ndarray, *, alpha: float = DEFAULT_ALPHA) -> WordingTest:
    """Two-way ANOVA of the cube (items × variants × samples); NaN cells drop their item."""
    if not 0 < alpha < 1:
        raise InvalidInput("alpha must be in (0, 1)", field="alpha")
    data = complete_cube(cube)
    n, v, k = data.shape
    if v < 2:
        raise InvalidInput("a wording test needs at least two variants", field="variants")
    if n < 2:
        raise InvalidInput(f"only {n} item(s) were scored under every variant; a pilot needs at least two",
                           field="items")
    cell = data.mean(axis=2)  # m_iv
    item = cell.mean(axis=1, keepdims=True)  # m_i
    wording_ss = float(k * np.sum((cell - item) ** 2))
    wording_sd = float(np.sqrt(np.sum((cell - item) ** 2) / (n * (v - 1))))
    if k >= 2:
        noise_ss = float(np.sum((data - cell[:, :, None]) ** 2))
        df1, df2 = n * (v - 1), n * v * (k - 1)
        noise_sd = float(np.sqrt(noise_ss / df2))
        basis = "repeat_samples"
        f, p = _f_test(wording_ss / df1, noise_ss / df2, df1, df2)
    else:
        variant = cell.mean(axis=0, keepdims=True)
        grand = float(cell.mean())
        shift_ss = float(n * np.sum((variant - grand) ** 2))
        resid_ss = float(np.sum((cell - item - variant + grand) ** 2))
        df1, df2 = v - 1, (n - 1) * (v - 1)
        noise_sd = None
        basis = "no_repeat_samples"
        f, p = _f_test(shift_ss / df1, resid_ss / df2, df1, df2)
    return WordingTest(sensitive=p is not None and p < alpha, p_value=p, f_statistic=f, df=(df1, df2), basis=basis,
                       alpha=alpha, noise_sd=noise_sd, wording_sd=wording_sd, n_items=n, n_variants=v, n_samples=k)


def _f_test(ms_effect: float, ms_error: float, df1: int, df2: int) -> tuple[float | None, float | None]:
    if ms_effect <= 0:
        return 0.0, 1.0  # the variants agree exactly: nothing to explain
    if ms_error <= 0:
        # A deterministic judge (no noise at all) whose wordings still differ: any difference is beyond noise.
        return float("inf"), 0.0
    f = ms_effect / ms_error
    return float(f), float(stats.f.sf(f, df1, df2))


@dataclass(frozen=True)
class WordingVariance:
    """The between-variant variance component of item-mean figures (see module docstring)."""

    tau2: float  # variance of one variant's population mean around the mean over variants
    ms_variants: float
    ms_residual: float
    n_items: int
    n_variants: int

    def variance_of_mean(self) -> float:
        """What averaging over these ``n_variants`` wordings adds to the variance of the mean."""
        return self.tau2 / self.n_variants


def wording_variance(item_by_variant: np.ndarray) -> WordingVariance:
    """τ² from an items × variants matrix of item means (rows with a NaN are dropped)."""
    m = np.asarray(item_by_variant, dtype=float)
    if m.ndim != 2:
        raise InvalidInput("wording variance needs an items × variants matrix", field="variants")
    m = m[np.all(np.isfinite(m), axis=1)]
    n, v = m.shape
    if v < 2 or n < 2:
        return WordingVariance(0.0, 0.0, 0.0, n, v)
    item = m.mean(axis=1, keepdims=True)
    variant = m.mean(axis=0, keepdims=True)
    grand = float(m.mean())
    ms_variants = float(n * np.sum((variant - grand) ** 2) / (v - 1))
    ms_residual = float(np.sum((m - item - variant + grand) ** 2) / ((n - 1) * (v - 1)))
    return WordingVariance(max(0.0, (ms_variants - ms_residual) / n), ms_variants, ms_residual, n, v)


@dataclass(frozen=True)
class WideningResult:
    """An item-bootstrap interval widened by the variance across wordings."""

    estimate: Estimate  # the widened interval (method says so)
    items_only: Estimate  # the interval from item (and sample) resampling alone
    wording: WordingVariance
    share_of_width_from_wording: float  # 1 − width(items only) / width(widened)


def widen_for_wording(items_only: Estimate, wording: WordingVariance, confidence: float) -> WideningResult:
    """Add τ²/V to the item-sampling variance (read from the interval's half-width, as a normal SE).

    The item bootstrap resamples items, not wordings; a wording shift common to every item is
    invisible to it. Treating the bootstrap half-width as z·SE and the variants as a random sample
    of wordings, the total SE is sqrt(SE² + τ²/V)."""
    if items_only.estimate is None or items_only.ci_low is None or items_only.ci_high is None:
        return WideningResult(items_only, items_only, wording, 0.0)
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    low_half = items_only.estimate - items_only.ci_low
    high_half = items_only.ci_high - items_only.estimate
    extra = wording.variance_of_mean()
    if extra <= 0:
        return WideningResult(items_only, items_only, wording, 0.0)
    # Each side keeps its own (possibly skewed) item-sampling half-width, widened in quadrature.
    new_low = items_only.estimate - float(np.sqrt(low_half ** 2 + z ** 2 * extra))
    new_high = items_only.estimate + float(np.sqrt(high_half ** 2 + z ** 2 * extra))
    widened = Estimate(items_only.estimate, new_low, new_high, items_only.n, items_only.p_value,
                       method="item bootstrap + wording variance")
    width_items, width_all = items_only.ci_high - items_only.ci_low, new_high - new_low
    share = 0.0 if width_all <= 0 else max(0.0, 1.0 - width_items / width_all)
    return WideningResult(widened, items_only, wording, share)
