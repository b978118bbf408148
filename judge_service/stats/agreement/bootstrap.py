"""Bootstrap CIs for agreement figures: units resampled with pairs kept together, seeded from a string."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as sps

from judge_service.stats.agreement.inputs import _BATCH_CELLS
from judge_service.stats.estimate import Estimate, rng_from_seed, undefined


@dataclass(frozen=True)
class BootstrapConfig:
    confidence: float = 0.95
    n_resamples: int = 1000
    seed: str = "agreement"
    method: str = "BCa"


def _bootstrap(point: float, statistic: Callable[[np.ndarray], np.ndarray], n_units: int, n: int,
               config: BootstrapConfig, name: str) -> Estimate:
    """Resample ``n_units`` unit indices; ``statistic(idx)`` maps index arrays (..., n_units) to values.

    Resampling indices, not values, keeps a unit's fields together (paired resampling) and lets
    one helper serve correlations, kappas, grouped means and system-level statistics alike.
    """
    if not np.isfinite(point):
        return undefined(n, f"{name} is undefined on these data (a side is constant or empty)")
    if config.n_resamples == 0:
        return Estimate(float(point), None, None, n, reason="n_resamples is 0: point estimate only, no CI")
    if n_units < 2:
        return Estimate(float(point), None, None, n, reason="a CI needs at least two units")

    def run(method: str) -> Any:  # scipy's BootstrapResult (scipy ships no types here)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return sps.bootstrap((np.arange(n_units),), lambda idx, axis=-1: statistic(idx), vectorized=True,
                                 n_resamples=config.n_resamples, confidence_level=config.confidence,
                                 batch=max(1, _BATCH_CELLS // n_units),
                                 method=method, rng=rng_from_seed(f"{config.seed}/{name}"))

    res = run(config.method)
    low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    if np.isfinite(low) and np.isfinite(high):
        return Estimate(float(point), low, high, n)
    # BCa is undefined when every resample gives the same value, and any interval is when the
    # statistic is undefined on some resamples (a constant side in a small sample). Fall back to
    # the percentile interval over the resamples where it is defined, if nearly all of them are.
    draws = res.bootstrap_distribution
    defined = np.isfinite(draws)
    if defined.mean() < 0.95:
        return Estimate(float(point), None, None, n,
                        reason=f"bootstrap CI not computable: {name} is undefined on {1 - defined.mean():.0%} of resamples "
                        "(a side constant); collect more items")
    tail = (1 - config.confidence) / 2 * 100
    low, high = np.percentile(draws[defined], [tail, 100 - tail])
    note = None if defined.all() else (f"percentile CI over the {defined.mean():.1%} of resamples where {name} "
                                       "is defined (a side constant in the rest)")
    return Estimate(float(point), float(low), float(high), n, reason=note)


def _rowwise(fn: Callable[..., float]) -> Callable[..., np.ndarray]:
    """Lift a scalar statistic of 1-D arrays to index arrays of shape (..., n)."""
    def lifted(*arrays: np.ndarray) -> np.ndarray:
        if arrays[0].ndim == 1:
            return np.asarray(fn(*arrays))
        flat = [a.reshape(-1, a.shape[-1]) for a in arrays]
        out = np.array([fn(*row) for row in zip(*flat)])
        return out.reshape(arrays[0].shape[:-1])
    return lifted


def _pearson_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    xc = x - x.mean(axis=-1, keepdims=True)
    yc = y - y.mean(axis=-1, keepdims=True)
    denom = np.sqrt((xc ** 2).sum(-1) * (yc ** 2).sum(-1))
    with np.errstate(all="ignore"):
        return np.where(denom > 0, (xc * yc).sum(-1) / np.where(denom > 0, denom, 1), np.nan)


def _spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return _pearson_rows(sps.rankdata(x, axis=-1), sps.rankdata(y, axis=-1))


def _kendall(variant: str) -> Callable[[np.ndarray, np.ndarray], float]:
    def tau(x: np.ndarray, y: np.ndarray) -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return float(sps.kendalltau(x, y, variant=variant).statistic)
    return tau


def _quiet(fn: Callable[..., float], *args: Any) -> float:
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return float(fn(*args))
