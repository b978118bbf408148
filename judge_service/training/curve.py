"""The analysis of one eval series: noise, best checkpoint, band of equivalents, onset, verdict.

Pure functions over arrays (no I/O). Everything works on "badness" (the metric, negated when
greater is better), so the best checkpoint is always a minimum.

Why each piece:
- Noise: the curve's own evaluation noise, not a fixed threshold. The second difference
  ``b[i-1] - 2 b[i] + b[i+1]`` cancels any locally linear trend and, for independent noise of
  sd σ, has sd σ√6; its median absolute value (× 1.4826, the normal consistency factor) is robust
  to the few large second differences the early, curved part of a curve produces.
- Band: a checkpoint is equivalent to the best when its gap to the best is within the one-sided
  95 % bound of the difference of two noisy points, 1.645·√2·σ. The earliest equivalent one is the
  cheapest checkpoint that is as good as the best.
- Onset: where a continuous two-segment (hinge) fit breaks; unlike the arg-min of noisy points it
  uses every point around the minimum. Reported with the interval between the neighbouring evals,
  because nothing is known between two evaluations.
- Sustained rise: Kendall's tau trend test (one-sided) over the post-best segment, *and* the last
  point still outside the band: a single bump followed by improvement is not overfitting. The
  overfitting signature also needs the train loss still falling over the same window (Kendall,
  one-sided); a rising train loss is instability, not overfitting.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

Z_ONE_SIDED_95 = 1.6448536269514722
ALPHA = 0.05
MIN_POINTS = 3


@dataclass(frozen=True)
class Onset:
    step: int
    epoch: float | None
    interval: tuple[int, int]  # the rise began between these steps (neighbouring evals)
    trend_tau: float
    trend_p: float  # Kendall tau, one-sided (worsening), over the post-best segment
    rise: float  # last value minus best, in the metric's units (sign: worse is positive)


@dataclass(frozen=True)
class CurveAnalysis:
    metric: str
    greater_is_better: bool
    n_points: int
    noise_sd: float
    band_threshold: float
    best_step: int
    best_value: float
    best_epoch: float | None
    band_steps: list[int]
    earliest_equivalent_step: int
    earliest_equivalent_value: float
    last_step: int
    last_value: float
    last_outside_band: bool
    trend_p: float | None  # post-best trend test (worsening)
    tail_improving_p: float | None  # is the last stretch still improving?
    train_falling_p: float | None  # train loss over the post-onset window (falling)
    onset: Onset | None
    verdict: str
    reasons: list[str] = field(default_factory=list)


def noise_sd(values: Sequence[float]) -> float:
    """Robust sd of evaluation noise from second differences (nan with fewer than 3 points)."""
    b = np.asarray(values, dtype=float)
    if b.size < 3:
        return math.nan
    d2 = b[:-2] - 2 * b[1:-1] + b[2:]
    sd = 1.4826 * float(np.median(np.abs(d2))) / math.sqrt(6.0)
    # a floor, so a curve that is exactly linear (or logged with few digits) still has a band
    return max(sd, 1e-9 * max(1.0, float(np.median(np.abs(b)))))


def hinge_break(x: Sequence[float], y: Sequence[float], candidates: Sequence[int] | None = None) -> tuple[int, float]:
    """Index (among ``candidates``, default all but the last) where a continuous two-segment linear
    fit breaks (least squares), and the fit's right slope."""
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    scale = (xs[-1] - xs[0]) or 1.0
    xs = (xs - xs[0]) / scale
    best: tuple[float, int, float] = (math.inf, 0, 0.0)
    for k in candidates if candidates is not None else range(len(xs) - 1):
        if not 0 <= k < len(xs) - 1:
            continue
        left, right = np.minimum(xs - xs[k], 0.0), np.maximum(xs - xs[k], 0.0)
        design = np.column_stack([np.ones_like(xs), right] if k == 0 else [np.ones_like(xs), left, right])
        coef, *_ = np.linalg.lstsq(design, ys, rcond=None)
        sse = float(np.sum((design @ coef - ys) ** 2))
        if sse < best[0] - 1e-15:
            best = (sse, k, float(coef[-1]))
    return best[1], best[2]


def kendall_p(x: Sequence[float], y: Sequence[float], alternative: str) -> tuple[float, float] | None:
    """(tau, one-sided p) of y's trend in x; None with fewer than 3 points or no variation."""
    if len(x) < 3 or len(set(y)) < 2:
        return None
    result = stats.kendalltau(x, y, alternative=alternative)
    tau, p = float(result.statistic), float(result.pvalue)
    if not math.isfinite(p):
        return None
    return tau, p


def analyse_curve(metric: str, steps: Sequence[int], values: Sequence[float], epochs: Sequence[float | None],
                  *, greater_is_better: bool, train_steps: Sequence[int] = (), train_loss: Sequence[float] = (),
                  diverging_reason: str | None = None) -> CurveAnalysis | None:
    """The analysis of one eval series; None when it has fewer than ``MIN_POINTS`` points."""
    n = len(values)
    if n < MIN_POINTS:
        return None
    sign = -1.0 if greater_is_better else 1.0
    b = sign * np.asarray(values, dtype=float)
    sigma = noise_sd(b.tolist())
    threshold = Z_ONE_SIDED_95 * math.sqrt(2.0) * sigma
    best = int(np.argmin(b))
    band = [i for i in range(n) if b[i] - b[best] <= threshold]
    earliest = band[0]
    last_outside = bool(b[-1] - b[best] > threshold)
    reasons: list[str] = []

    trend = kendall_p(list(steps[best:]), list(b[best:]), "greater") if n - best >= 3 else None
    tail_len = max(4, n // 3)
    tail = kendall_p(list(steps[-tail_len:]), list(b[-tail_len:]), "less") if n >= 4 else None

    onset: Onset | None = None
    train_p: float | None = None
    # the rise begins at the bottom of the curve: the break is searched among the checkpoints
    # equivalent to the best (where the true minimum can be), not where the slope changes most
    k, slope = hinge_break([float(s) for s in steps], list(b), band)
    start = min(best, k)
    sustained_trend = kendall_p(list(steps[start:]), list(b[start:]), "greater") if n - start >= 3 else None
    sustained = (sustained_trend is not None and sustained_trend[1] < ALPHA and last_outside and slope > 0)
    if sustained and sustained_trend is not None:
        onset_index = k if slope > 0 else best
        lo = steps[onset_index - 1] if onset_index > 0 else 0
        hi = steps[onset_index + 1] if onset_index + 1 < n else steps[onset_index]
        onset = Onset(steps[onset_index], epochs[onset_index], (lo, hi), sustained_trend[0], sustained_trend[1],
                      float(b[-1] - b[best]))
        window = [(s, v) for s, v in zip(train_steps, train_loss) if steps[onset_index] <= s <= steps[-1]]
        falling = kendall_p([s for s, _ in window], [v for _, v in window], "less")
        train_p = falling[1] if falling else None

    if diverging_reason:
        verdict = "diverging"
        reasons.append(diverging_reason)
    elif onset is not None and train_p is not None and train_p < ALPHA:
        verdict = "overfitting"
        reasons.append(f"{metric} rises steadily after step {onset.step} (Kendall tau {onset.trend_tau:.2f}, one-sided "
                       f"p {onset.trend_p:.3g}) and ends {onset.rise:.4g} worse than the best, beyond the noise band "
                       f"({threshold:.4g}), while the train loss keeps falling (p {train_p:.3g})")
    elif onset is not None:
        verdict = "possible_overfitting"
        reasons.append(f"{metric} rises steadily after step {onset.step} (p {onset.trend_p:.3g}), but the train loss "
                       + ("is not logged over that window" if train_p is None else f"is not clearly falling (p {train_p:.3g})")
                       + ", so the overfitting signature is incomplete")
    elif last_outside:
        verdict = "possible_overfitting"
        p_text = f"p {trend[1]:.3g}" if trend else "too few points after the best for a trend test"
        reasons.append(f"the last {metric} is {abs(b[-1] - b[best]):.4g} worse than the best (band {threshold:.4g}), but "
                       f"the rise after the best is not a sustained trend ({p_text}): it may be a bump")
    elif tail is not None and tail[1] < ALPHA:
        verdict = "no_overfitting"
        reasons.append(f"{metric} is still improving over the last {tail_len} evaluations (Kendall p {tail[1]:.3g}); "
                       "more training may help")
    elif n - 1 - earliest >= 2 and steps[-1] - steps[earliest] >= 0.2 * (steps[-1] - steps[0]):
        verdict = "plateau"
        reasons.append(f"every evaluation from step {steps[earliest]} on is within the noise band of the best "
                       f"({threshold:.4g}): the last {100 * (steps[-1] - steps[earliest]) / steps[-1]:.0f}% of the steps "
                       "bought nothing measurable")
    else:
        verdict = "no_overfitting"
        reasons.append(f"the best {metric} is at or near the end of the run, within noise")
    return CurveAnalysis(
        metric=metric, greater_is_better=greater_is_better, n_points=n, noise_sd=sigma, band_threshold=threshold,
        best_step=steps[best], best_value=float(values[best]), best_epoch=epochs[best], band_steps=[steps[i] for i in band],
        earliest_equivalent_step=steps[earliest], earliest_equivalent_value=float(values[earliest]),
        last_step=steps[-1], last_value=float(values[-1]), last_outside_band=last_outside,
        trend_p=trend[1] if trend else None, tail_improving_p=tail[1] if tail else None, train_falling_p=train_p,
        onset=onset, verdict=verdict, reasons=reasons)
