"""Unpaired comparison from two results files alone (each arm's own standard error). Pure."""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats

from judge_service.stats.estimate import Estimate


@dataclass(frozen=True)
class UnpairedResult:
    """Δ = tuned − base with SE = √(se_b² + se_t²). That SE assumes the arms are independent; run on
    the same documents they are positively correlated, so the true SE is smaller and this z test is
    conservative. ``correlation_needed`` is the correlation ρ between the arms' per-doc scores at
    which Δ would reach significance (SE² = se_b² + se_t² − 2ρ·se_b·se_t); ≤ 0 means it already is,
    > 1 that no correlation would make it so."""

    difference: Estimate
    se: float
    z: float
    correlation_needed: float | None


def z_test(base: float, se_base: float, tuned: float, se_tuned: float, n: int, confidence: float = 0.95,
           alpha: float = 0.05) -> UnpairedResult:
    delta = tuned - base
    se = math.sqrt(se_base ** 2 + se_tuned ** 2)
    zq = float(stats.norm.ppf(0.5 + confidence / 2))
    if se == 0:
        z = math.inf if delta else 0.0
        p = 0.0 if delta else 1.0
    else:
        z = delta / se
        p = float(2 * stats.norm.sf(abs(z)))
    crit = float(stats.norm.ppf(1 - alpha / 2))
    rho: float | None = None
    if se_base > 0 and se_tuned > 0:
        rho = (se_base ** 2 + se_tuned ** 2 - (delta / crit) ** 2) / (2 * se_base * se_tuned)
    est = Estimate(delta, delta - zq * se, delta + zq * se, n, p_value=p, method="z (independent SEs, conservative)")
    return UnpairedResult(est, se, z, rho)


def exact_two_proportions(base: float, tuned: float, n_base: int, n_tuned: int) -> tuple[int, int, float] | None:
    """Counts rebuilt from accuracy × n, and Fisher's exact test on the 2×2 table. None when acc × n
    is not (within rounding) a whole number: then the metric is not a proportion of docs."""
    kb, kt = base * n_base, tuned * n_tuned
    if abs(kb - round(kb)) > 1e-6 * max(1, n_base) or abs(kt - round(kt)) > 1e-6 * max(1, n_tuned):
        return None
    b, t = int(round(kb)), int(round(kt))
    result = stats.fisher_exact([[t, n_tuned - t], [b, n_base - b]])
    return b, t, float(result.pvalue)
