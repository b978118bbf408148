"""Prediction-powered inference (PPI) for a mean: many judge scores, a few human labels.

The judge's scores on every item are cheap but biased; human labels on a small subset are
unbiased but few. PPI (Angelopoulos et al. 2023, "Prediction-powered inference", Science)
estimates the mean human score as the judge's mean on the unlabelled items plus a rectifier, the
mean human-minus-judge gap on the labelled ones; the CI stays valid however biased the judge is
and is narrower than the human-only CI when the judge tracks the humans.

Formulas follow ppi_py's ``ppi_mean_ci`` / ``classical_mean_ci`` (normal intervals, population
standard deviations, i.e. ddof=0), with one difference of default: ppi_py uses alpha=0.1 (a 90%
interval) where we default to 95%. ``lam`` is the PPI++ power-tuning weight (Angelopoulos, Duchi
and Zrnic 2023, "PPI++: Efficient Prediction-Powered Inference"): lam=1 is plain PPI, lam=0 the
classical estimate, lam="tune" the variance-minimising value clipped to [0, 1], as ppi_py does
when given lam=None.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from judge_service.errors import InvalidInput
from judge_service.stats.estimate import Estimate


@dataclass(frozen=True)
class PPIResult:
    """The prediction-powered interval, and the classical human-only interval to compare with."""

    ppi: Estimate
    classical: Estimate
    ppi_se: float          # the normal intervals' standard errors, which PPI's comparison is about
    classical_se: float
    confidence: float
    n_labeled: int
    n_unlabeled: int
    lam: float
    rectifier: float   # mean(human - lam * judge) on the labelled items: the judge's bias, estimated

    @property
    def width_ratio(self) -> float:
        """PPI width / classical width: below 1 means the judge bought precision."""
        return self.ppi_se / self.classical_se if self.classical_se > 0 else float("nan")  # widths are z * se


def classical_mean_ci(human: Sequence[float] | np.ndarray, *, confidence: float = 0.95) -> tuple[Estimate, float]:
    """Normal CI for a mean from human labels alone: mean +- z * std(ddof=0) / sqrt(n), as ppi_py; and its se."""
    y = _vector(human, "human", minimum=2)
    _check_confidence(confidence)
    se = float(y.std() / np.sqrt(len(y)))
    return _interval(float(y.mean()), se, len(y), confidence, "classical"), se


def ppi_mean_ci(human: Sequence[float] | np.ndarray, judge_labeled: Sequence[float] | np.ndarray,
                judge_unlabeled: Sequence[float] | np.ndarray, *, confidence: float = 0.95,
                lam: float | str = 1.0) -> PPIResult:
    """PPI CI for the mean human score.

    ``human`` and ``judge_labeled`` are paired over the n labelled items; ``judge_unlabeled`` holds
    the judge's scores on the N other items. With weight lam (ppi_py):
        estimate = mean(lam * judge_unlabeled) + mean(human - lam * judge_labeled)
        se^2     = var(lam * judge_unlabeled) / N + var(human - lam * judge_labeled) / n
    """
    y = _vector(human, "human", minimum=2)
    yhat = _vector(judge_labeled, "judge_labeled", minimum=2)
    yhat_u = _vector(judge_unlabeled, "judge_unlabeled", minimum=2)
    if len(y) != len(yhat):
        raise InvalidInput(f"'human' has {len(y)} items but 'judge_labeled' has {len(yhat)}; they must be paired",
                           field="judge_labeled")
    _check_confidence(confidence)
    weight = _tuned_lambda(y, yhat, yhat_u) if lam == "tune" else _check_lambda(lam)
    n, big_n = len(y), len(yhat_u)
    residual = y - weight * yhat
    rectifier = float(residual.mean())
    estimate = float((weight * yhat_u).mean()) + rectifier
    se = float(np.sqrt((weight * yhat_u).var() / big_n + residual.var() / n))
    method = "ppi++" if lam == "tune" else "ppi"
    classical, classical_se = classical_mean_ci(y, confidence=confidence)
    return PPIResult(_interval(estimate, se, n + big_n, confidence, method), classical, se, classical_se,
                     confidence, n, big_n, weight, rectifier)


def _tuned_lambda(y: np.ndarray, yhat: np.ndarray, yhat_u: np.ndarray) -> float:
    """PPI++'s variance-minimising weight for a mean, as ppi_py's _calc_lam_glm (one dimension):
    lam = cov(Y, Yhat) / ((1 + n/N) * var(all Yhat)), covariance with ddof=0 and the variance of
    the pooled predictions with ddof=1, clipped to [0, 1]."""
    n, big_n = len(y), len(yhat_u)
    cov = float(np.mean((y - y.mean()) * (yhat - yhat.mean())))
    var = float(np.var(np.concatenate([yhat, yhat_u]), ddof=1))
    if var == 0:
        return 0.0  # a constant judge carries no information: fall back to the classical estimate
    return float(np.clip(cov / ((1 + n / big_n) * var), 0.0, 1.0))


def _interval(estimate: float, se: float, n: int, confidence: float, method: str) -> Estimate:
    half = float(sps.norm.ppf(0.5 + confidence / 2)) * se
    return Estimate(estimate, estimate - half, estimate + half, n, method=method)


def _vector(values: Sequence[float] | np.ndarray, name: str, minimum: int) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise InvalidInput(f"'{name}' must be a flat list of numbers", field=name)
    if not np.isfinite(arr).all():
        raise InvalidInput(f"'{name}' contains a missing or infinite value; drop those items", field=name)
    if len(arr) < minimum:
        raise InvalidInput(f"'{name}' needs at least {minimum} values; got {len(arr)}", field=name)
    return arr


def _check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise InvalidInput(f"confidence must be between 0 and 1 (e.g. 0.95); got {confidence}", field="confidence")


def _check_lambda(lam: float | str) -> float:
    if isinstance(lam, str) or not 0 <= float(lam) <= 1:
        raise InvalidInput(f"lam must be a number in [0, 1] or 'tune'; got {lam!r}", field="lam")
    return float(lam)
