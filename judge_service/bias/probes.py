"""Counterfactual length probes: pin the GLM's length slope with rows where only length differs.

The per-pair length-controlled win rate (``judge_service.bias.length``) reads the judge's taste
for length off the candidate/baseline pairs themselves. When the candidate is longer (or shorter)
on nearly every item, length and "being the candidate" are nearly the same column: the slope is
fitted on the few items on the minority side and the LC figure at equal length is an
extrapolation. AlpacaEval's ``length_controlled_v1`` fixes this with "gamed" baseline rows: the
baseline's own answers made verbose and concise, judged against the originals. Their content is
the same, so any preference there is the judge's length sensitivity, measured directly.

Probe rows enter the same fractional-logit fit with their own intercept:

    main rows:   logit P(candidate preferred)   = θ + φ·x [+ Σ ψ_k·s_k]
    probe rows:  logit P(rewrite preferred)      = α + φ·x [+ Σ ψ_k·s_k]

with x = tanh(Δlen / sd) and sd the main rows' (the scale the LC figure is defined on; the
probes' Δ are put on it too). φ (and ψ) are shared, so the probes, which run both ways (verbose
rewrites are longer, concise ones shorter), identify the slope whatever the main rows' lengths.
α is free: a rewriter that degrades (or polishes) answers both ways moves α, not φ. AlpacaEval's
gamed rows fix it at 0 ("content unchanged"); ``free_rewrite_intercept=False`` does that. On the
benchmark (benchmarks/length_probe_fits.py) the two agree within 0.1 point when the judge follows
the model and the free α is slightly better when it does not; a large |α| is reported as a sign
that the rewrites changed more than length. LC is σ(θ), as without probes.

The CI is a stratified percentile bootstrap: main items and probe items (a sampled baseline
answer with its rewrites, resampled together) are drawn separately, each at its own size, and
the whole model refitted per resample, so the slope's uncertainty (now mostly the probes') is in
the interval. Pure; no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import special

from judge_service.bias.length import (
    DEFAULT_L2, DIVERGENCE_WARNING, STYLE_FEATURES, LengthControlledWinRate, fit_fractional_logit_batched,
    length_feature, style_features,
)
from judge_service.errors import InvalidInput
from judge_service.stats.estimate import Estimate, rng_from_seed
from judge_service.stats.inference import bootstrap_mean

# Fewer probe groups than this and the slope is too noisy to be worth pinning to.
MIN_PROBE_GROUPS = 5
# The per-pair fit's ridge (DEFAULT_L2) is there to keep a separable slope finite; with probes the
# slope is measured directly and that ridge alone biased LC by ~0.4 points on the benchmark's
# model-correct case, so a tenth of it is used.
PROBE_L2 = DEFAULT_L2 / 10
# |α| above this (σ(α) outside ~0.44–0.56) says the rewrites changed more than length.
REWRITE_INTERCEPT_WARNING = 0.25


@dataclass(frozen=True)
class ProbeRow:
    """One rewrite judged against its original (both orders, all judges, averaged)."""

    group: str  # the baseline item the rewrite was made from (rows of one group resample together)
    kind: str  # "verbose" | "concise"
    preference: float  # P(rewrite preferred over the original), in [0, 1]
    rewrite_text: str
    original_text: str
    judge: str = ""  # whose calls these are, when rows are kept per judge (pooled by ``pool_by_judges``)


def pool_by_judges(rows: Sequence[ProbeRow], judges: set[str]) -> list[ProbeRow]:
    """One row per (group, kind): the mean over the given judges' rows (those the headline keeps)."""
    pooled: dict[tuple[str, str], list[ProbeRow]] = {}
    for r in rows:
        if r.judge in judges:
            pooled.setdefault((r.group, r.kind), []).append(r)
    return [ProbeRow(g, k, float(np.mean([r.preference for r in rs])), rs[0].rewrite_text, rs[0].original_text)
            for (g, k), rs in sorted(pooled.items())]


@dataclass(frozen=True)
class ProbeSummary:
    """What the report's length-control section says about the probes."""

    n_groups: int
    n_rows: int
    rows_by_kind: dict[str, int]
    length_slope: Estimate  # φ with the probes (bootstrap percentile CI)
    length_slope_without_probes: float
    rewrite_intercept: float  # α: the judge's preference for a rewrite at equal length
    mean_preference_by_kind: dict[str, float]
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "used": True, "n_groups": self.n_groups, "n_rows": self.n_rows, "rows_by_kind": dict(self.rows_by_kind),
            "length_slope": self.length_slope.to_dict(), "length_slope_without_probes": self.length_slope_without_probes,
            "rewrite_intercept": self.rewrite_intercept,
            "mean_preference_by_kind": dict(self.mean_preference_by_kind),
            "extrapolation_pinned": True, "warnings": list(self.warnings),
        }


def probe_pinned_win_rate(
    preferences: Sequence[float] | np.ndarray,
    candidate_texts: Sequence[str],
    baseline_texts: Sequence[str],
    probes: Sequence[ProbeRow],
    *,
    style_control: bool = False,
    length_fn: Callable[[str], float] = len,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: str,
    l2: float = PROBE_L2,
    raw: Estimate | None = None,
    free_rewrite_intercept: bool = True,
) -> tuple[LengthControlledWinRate, ProbeSummary]:
    """The length- (and style-) controlled win rate with the slope pinned by probe rows.

    ``free_rewrite_intercept``: fit α (the default) or fix it at 0 (module docstring)."""
    y = np.asarray(preferences, dtype=float)
    n = y.size
    if len(candidate_texts) != n or len(baseline_texts) != n:
        raise InvalidInput(f"need one candidate and one baseline text per preference ({n})", field="items")
    if n == 0:
        raise InvalidInput("no scored items to fit", field="preferences")
    groups = sorted({p.group for p in probes})
    if len(groups) < MIN_PROBE_GROUPS:
        raise InvalidInput(f"{len(groups)} probe group(s); pinning the length slope needs at least "
                           f"{MIN_PROBE_GROUPS} sampled answers with rewrites", field="length_probes.sample")
    q = np.array([p.preference for p in probes], dtype=float)
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(q))) or np.any((y < 0) | (y > 1)) or np.any((q < 0) | (q > 1)):
        raise InvalidInput("preferences must be finite and lie in [0, 1]", field="preferences")
    main_delta = np.array([length_fn(c) - length_fn(b) for c, b in zip(candidate_texts, baseline_texts)], dtype=float)
    probe_delta = np.array([length_fn(p.rewrite_text) - length_fn(p.original_text) for p in probes], dtype=float)
    main_x, sd = length_feature(main_delta)
    if sd == 0.0:  # every pair equally long: put the probes on their own scale (LC then equals the raw rate)
        _, sd = length_feature(probe_delta)
    probe_x = np.tanh(probe_delta / sd) if sd > 0 else np.zeros_like(probe_delta)
    main_cols, probe_cols = [main_x], [probe_x]
    names = ["length"]
    if style_control:
        main_cols.extend(style_features(candidate_texts, baseline_texts).T)
        probe_cols.extend(style_features([p.rewrite_text for p in probes], [p.original_text for p in probes]).T)
        names.extend(STYLE_FEATURES)
    m = len(probes)
    # columns: candidate intercept θ, rewrite intercept α, then the shared slopes
    X_main = np.column_stack([np.ones(n), np.zeros(n), *main_cols])
    X_probe = np.column_stack([np.zeros(m), np.ones(m), *probe_cols])
    X, target = np.vstack([X_main, X_probe]), np.concatenate([y, q])
    # fitted with α free in any case: a rewrite preferred (or not) at equal length changed more than length,
    # which the summary reports even when α is fixed at 0 for the estimate
    free = fit_fractional_logit_batched(X[None], target[None], l2=l2, n_free=2)[0]
    if not free_rewrite_intercept:
        X, X_main, X_probe = (np.delete(a, 1, axis=1) for a in (X, X_main, X_probe))
    n_free = 2 if free_rewrite_intercept else 1
    slope_at = n_free
    beta = free if free_rewrite_intercept else fit_fractional_logit_batched(X[None], target[None], l2=l2)[0]
    # the same fit without probe rows, for the report (what the slope was before pinning)
    alone = fit_fractional_logit_batched(np.delete(X_main, 1, axis=1)[None] if free_rewrite_intercept
                                         else X_main[None], y[None], l2=DEFAULT_L2)[0]

    rng = rng_from_seed(f"{seed}/probes")
    group_index = {g: k for k, g in enumerate(groups)}
    rows_of = [np.flatnonzero([group_index[p.group] == k for p in probes]) for k in range(len(groups))]
    thetas, slopes = [], []
    for start in range(0, n_resamples, 250):
        b = min(250, n_resamples - start)
        main_idx = rng.integers(0, n, size=(b, n))
        picked = rng.integers(0, len(groups), size=(b, len(groups)))
        probe_idx = [np.concatenate([rows_of[g] for g in row]) for row in picked]
        width = max(len(p) for p in probe_idx)
        # resamples can differ in probe rows (groups differ in size): pad with zero-weight rows
        Xb = np.zeros((b, n + width, X.shape[1]))
        yb = np.zeros((b, n + width))
        wb = np.zeros((b, n + width))
        for k in range(b):
            rows = probe_idx[k]
            Xb[k, :n], yb[k, :n], wb[k, :n] = X_main[main_idx[k]], y[main_idx[k]], 1.0
            Xb[k, n:n + rows.size], yb[k, n:n + rows.size], wb[k, n:n + rows.size] = X_probe[rows], q[rows], 1.0
        fitted = fit_fractional_logit_batched(Xb, yb, l2=l2, n_free=n_free, weights=wb)
        thetas.append(fitted[:, 0])
        slopes.append(fitted[:, slope_at])
    alpha = 1 - confidence
    theta_draws, slope_draws = np.concatenate(thetas), np.concatenate(slopes)
    low, high = special.expit(np.quantile(theta_draws, [alpha / 2, 1 - alpha / 2]))
    if raw is None:
        raw = bootstrap_mean(y, confidence=confidence, n_resamples=n_resamples, seed=f"{seed}/raw")
    point = float(special.expit(beta[0]))
    controlled = Estimate(point, float(low), float(high), n, method="percentile")
    coefficients = {"candidate": float(beta[0])} | ({"rewrite": float(beta[1])} if free_rewrite_intercept else {}) \
        | {name: float(c) for name, c in zip(names, beta[slope_at:])}
    notes: list[str] = []
    assert raw.estimate is not None
    if abs(point - raw.estimate) > DIVERGENCE_WARNING:
        notes.append(f"{'style' if style_control else 'length'}-controlled win rate {point:.3f} (slope pinned by "
                     f"{m} probe rows) differs from the raw {raw.estimate:.3f} by {abs(point - raw.estimate):.3f} "
                     f"(> {DIVERGENCE_WARNING}): the judge's preference tracks answer length; trust the controlled figure")
    kinds = sorted({p.kind for p in probes})
    probe_notes = []
    for kind, wrong_way in (("verbose", probe_delta <= 0), ("concise", probe_delta >= 0)):
        bad = int(np.sum(wrong_way & np.array([p.kind == kind for p in probes])))
        if bad:
            probe_notes.append(f"{bad} {kind} rewrite(s) did not change the length the intended way; the rewriter "
                               "may not follow the instruction")
    if abs(free[1]) > REWRITE_INTERCEPT_WARNING:
        probe_notes.append(f"the judge's preference for a rewrite at equal length is {float(special.expit(free[1])):.2f}, "
                           "not 0.5: the rewrites seem to change more than length (content or style); read the "
                           "pinned slope with care, or configure a rewriter that follows the instruction")
    s_low, s_high = np.quantile(slope_draws, [alpha / 2, 1 - alpha / 2])
    summary = ProbeSummary(
        n_groups=len(groups), n_rows=m, rows_by_kind={k: sum(p.kind == k for p in probes) for k in kinds},
        length_slope=Estimate(float(beta[slope_at]), float(s_low), float(s_high), len(groups), method="percentile"),
        length_slope_without_probes=float(alone[1]), rewrite_intercept=float(free[1]),
        mean_preference_by_kind={k: float(np.mean([p.preference for p in probes if p.kind == k])) for k in kinds},
        warnings=probe_notes)
    result = LengthControlledWinRate(raw, controlled, coefficients, float(sd), style_control, notes)
    return result, summary
