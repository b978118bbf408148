"""Impact of contamination: per-item outcomes split into clean and contaminated items.

Each subset's mean has a BCa bootstrap CI (``stats.inference.bootstrap_mean``); the difference
(contaminated − clean) has a percentile bootstrap CI (resampling within each subset) and a
two-sided permutation test of the difference of means (``scipy.stats.permutation_test``: twice
the smaller tail; exact
when the relabellings are fewer than ``n_resamples``). The headline is the clean subset: the
figure the eval would have given had the items not leaked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from judge_service.errors import InvalidInput
from judge_service.stats.estimate import Estimate, rng_from_seed, undefined
from judge_service.stats.inference import bootstrap_mean


@dataclass(frozen=True)
class Impact:
    all_items: Estimate
    clean: Estimate
    contaminated: Estimate
    difference: Estimate  # contaminated − clean; p_value: permutation test
    headline: Estimate  # the clean subset


def _mean(values: np.ndarray, confidence: float, n_resamples: int, seed: str, what: str) -> Estimate:
    if len(values) == 0:
        return undefined(0, f"no {what} items")
    # stats.inference still has its own Estimate type; convert to the one vocabulary here.
    mean = bootstrap_mean(values, confidence=confidence, n_resamples=n_resamples, seed=seed)
    return Estimate(mean.estimate, mean.ci_low, mean.ci_high, mean.n, method="BCa")


def contamination_impact(outcomes: Sequence[float] | np.ndarray, contaminated: Sequence[bool] | np.ndarray, *,
                         confidence: float = 0.95, n_resamples: int = 2000, seed: str = "impact") -> Impact:
    values = np.asarray(outcomes, dtype=float)
    dirty = np.asarray(contaminated, dtype=bool)
    if values.shape != dirty.shape:
        raise InvalidInput(f"{len(values)} outcomes for {len(dirty)} items; give one outcome per item", field="outcomes")
    if not np.isfinite(values).all():
        raise InvalidInput("outcomes must be finite numbers (1/0 for correct, a score, a win of 1, 0.5, 0)",
                           field="outcomes")
    clean_v, dirty_v = values[~dirty], values[dirty]
    everything = _mean(values, confidence, n_resamples, f"{seed}/all", "")
    clean = _mean(clean_v, confidence, n_resamples, f"{seed}/clean", "clean")
    dirty_e = _mean(dirty_v, confidence, n_resamples, f"{seed}/contaminated", "contaminated")
    if len(clean_v) < 2 or len(dirty_v) < 2:
        difference = undefined(len(values), "needs at least two clean and two contaminated items")
    else:
        point = float(dirty_v.mean() - clean_v.mean())
        rng = rng_from_seed(f"{seed}/difference")
        boot = (rng.choice(dirty_v, (n_resamples, len(dirty_v))).mean(axis=1)
                - rng.choice(clean_v, (n_resamples, len(clean_v))).mean(axis=1))
        alpha = (1 - confidence) / 2
        test = stats.permutation_test((dirty_v, clean_v), lambda x, y, axis: np.mean(x, axis=axis) - np.mean(y, axis=axis),
                                      permutation_type="independent", vectorized=True, n_resamples=n_resamples,
                                      alternative="two-sided", rng=rng_from_seed(f"{seed}/permutation"))
        difference = Estimate(point, float(np.quantile(boot, alpha)), float(np.quantile(boot, 1 - alpha)), len(values),
                              p_value=float(test.pvalue), method="percentile; p: permutation")
    return Impact(everything, clean, dirty_e, difference, clean)
