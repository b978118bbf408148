"""Checkpoint A vs checkpoint B on the same eval examples: a paired test instead of a band.

With per-example eval losses (the perplexity module scores each saved checkpoint on the eval
set, or the user's own evaluation loop does), the question "is B better than A" has a direct
answer: the mean per-example difference B − A with a bootstrap CI (resampling examples, seeded
by ``rng_from_seed``) and the Wilcoxon signed-rank p-value (per-example losses are skewed, so a
rank test is safer than the t-test; zero differences are dropped, scipy's default).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from judge_service.errors import InvalidInput
from judge_service.stats.estimate import Estimate, rng_from_seed, undefined


@dataclass(frozen=True)
class PairedCheckpoints:
    a: str
    b: str
    n: int
    mean_a: float
    mean_b: float
    difference: Estimate  # mean(b − a); p_value: Wilcoxon signed-rank, two-sided
    verdict: str


def compare_checkpoints(a: str, losses_a: Sequence[float], b: str, losses_b: Sequence[float], *,
                        confidence: float = 0.95, n_resamples: int = 2000, seed: str = "paired",
                        lower_is_better: bool = True) -> PairedCheckpoints:
    xa, xb = np.asarray(losses_a, dtype=float), np.asarray(losses_b, dtype=float)
    if xa.shape != xb.shape or xa.ndim != 1:
        raise InvalidInput(f"per-example losses of '{a}' ({xa.size}) and '{b}' ({xb.size}) must be two lists of the "
                           "same eval examples, in the same order", field="per_example")
    if not (np.all(np.isfinite(xa)) and np.all(np.isfinite(xb))):
        raise InvalidInput("per-example losses must be finite numbers (a nan loss means a broken eval example)",
                           field="per_example")
    n = int(xa.size)
    diff = xb - xa
    if n < 2:
        est = undefined(n, "a paired comparison needs at least 2 examples")
        return PairedCheckpoints(a, b, n, float(xa.mean()) if n else float("nan"), float(xb.mean()) if n else float("nan"),
                                 est, "cannot tell: too few examples")
    rng = rng_from_seed(f"{seed}/{a}/{b}")
    idx = rng.integers(0, n, size=(n_resamples, n))
    means = diff[idx].mean(axis=1)
    tail = (1 - confidence) / 2
    low, high = float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))
    p = float(stats.wilcoxon(xb, xa).pvalue) if np.any(diff != 0) else 1.0
    est = Estimate(float(diff.mean()), low, high, n, p_value=p, method="percentile bootstrap; p: Wilcoxon signed-rank")
    sign = 1.0 if lower_is_better else -1.0
    if est.excludes(0.0) and p < 1 - confidence:
        better = b if sign * est.estimate < 0 else a  # type: ignore[operator]
        verdict = f"{better} is better on these examples"
    else:
        verdict = f"no detectable difference between {a} and {b} on these {n} examples"
    return PairedCheckpoints(a, b, n, float(xa.mean()), float(xb.mean()), est, verdict)
