"""Decisions across tasks: orientation, multiplicity (Holm, BH), equivalence (TOST), and the minimum
detectable difference. Pure functions on numbers."""

from __future__ import annotations

import math
from collections.abc import Sequence

from scipy import stats


def improvement(delta: float, higher_is_better: bool) -> float:
    """Δ oriented so that positive is better (perplexity-type metrics flip)."""
    return delta if higher_is_better else -delta


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (step-down, monotone), as statsmodels' ``multipletests('holm')``."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """BH adjusted p-values (step-up), as statsmodels' ``multipletests('fdr_bh')``."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i], reverse=True)
    adjusted = [0.0] * m
    running = 1.0
    for k, i in enumerate(order):
        rank = m - k
        running = min(running, p_values[i] * m / rank)
        adjusted[i] = min(1.0, running)
    return adjusted


def tost(delta: float, se: float, margin: float) -> float:
    """Two one-sided z tests of H0: Δ ≤ −margin and H0: Δ ≥ +margin; the TOST p is the larger.
    p < α is "equivalent within ±margin", the same as the (1 − 2α) CI lying inside the margins."""
    if se <= 0:
        return 0.0 if abs(delta) < margin else 1.0
    p_low = float(stats.norm.sf((delta + margin) / se))
    p_high = float(stats.norm.cdf((delta - margin) / se))
    return max(p_low, p_high)


def minimum_detectable_difference(se: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """The |Δ| a two-sided level-α test detects with probability ``power``: (z₁₋α/₂ + z_power)·SE."""
    if not math.isfinite(se):
        return math.nan
    return float((stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)) * se)
