"""Length (and style) control: what would the judge say if both answers were equally long?

Pairwise — AlpacaEval 2's length-controlled win rate (Dubois et al. 2024, "Length-Controlled
AlpacaEval", eq. 1–2) for a single candidate/baseline pair: a logistic GLM of the per-item
soft preference for the candidate,

    logit P(candidate preferred | item i) = θ + φ·tanh(Δlen_i / sd(Δlen)) [+ Σ_k ψ_k·s_ik]

where θ is the "candidate term". The LC win rate is the mean predicted preference with the
length (and style) terms set to zero, i.e. σ(θ). AlpacaEval's per-instruction difficulty term
is dropped: with one system pair it is not identifiable separately from the response. Style
control adds Arena-Hard's style features (markdown headers, list items, bold spans) as
normalised differences s = (c − b)/(c + b + 1) (the brief's form; Arena-Hard "style control",
Li et al. 2024, uses the same counts).

Length is measured in **characters** by default (``len``); pass ``length_fn`` (e.g. a
tokenizer's token count) to measure otherwise. ``Δlen`` is candidate − baseline.

Absolute — regress the per-item score difference (candidate − baseline) on Δlen: the slope is
how much of the gap tracks length, the intercept is the difference predicted at equal length.

Pure functions: no I/O.
"""

from __future__ import annotations

import dataclasses

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import optimize, special

from judge_service.errors import InvalidInput
from judge_service.stats.inference import Estimate, bootstrap_index_ci, bootstrap_mean

# A small ridge on the slope terms (never the intercept, which would pull the LC win rate
# towards 0.5). On features bounded in [-1, 1] it shrinks a slope by ~1% at n = 100, but keeps
# the fit finite when the data are separable (every longer answer preferred) and the Hessian
# invertible when a style feature is constant (no markdown anywhere). AlpacaEval's GLM is
# likewise L2-regularised.
DEFAULT_L2 = 1e-3
# Raw and controlled win rates further apart than this earn a warning (the brief's threshold).
DIVERGENCE_WARNING = 0.05
STYLE_FEATURES = ("headers", "list_items", "bold")
# Below this share of items on the minority side of "equal length", equal length is outside
# (or at the edge of) the data and the controlled figure is an extrapolation.
EXTRAPOLATION_SHARE = 0.1

_HEADER = re.compile(r"^\s{0,3}#{1,6}\s+\S", re.MULTILINE)
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+\S", re.MULTILINE)
_BOLD = re.compile(r"\*\*[^*\n]+?\*\*|__[^_\n]+?__")


@dataclass(frozen=True)
class StyleCounts:
    headers: int
    list_items: int
    bold: int


def style_counts(text: str) -> StyleCounts:
    """Markdown headers, list items (bulleted or numbered) and bold spans in ``text``."""
    return StyleCounts(len(_HEADER.findall(text)), len(_LIST_ITEM.findall(text)), len(_BOLD.findall(text)))


def length_feature(length_differences: Sequence[float] | np.ndarray) -> tuple[np.ndarray, float]:
    """tanh(Δ / sd(Δ)) and the sd used; all-zero features when every Δ is equal (sd = 0)."""
    d = np.asarray(length_differences, dtype=float)
    sd = float(np.std(d, ddof=1)) if d.size > 1 else 0.0
    if sd == 0.0:
        return np.zeros_like(d), 0.0
    return np.tanh(d / sd), sd


def style_features(candidate_texts: Sequence[str], baseline_texts: Sequence[str]) -> np.ndarray:
    """(n, 3) normalised differences (c − b)/(c + b + 1) in headers, list items, bold."""
    rows = []
    for c_text, b_text in zip(candidate_texts, baseline_texts, strict=True):
        c, b = style_counts(c_text), style_counts(b_text)
        rows.append([(getattr(c, f) - getattr(b, f)) / (getattr(c, f) + getattr(b, f) + 1) for f in STYLE_FEATURES])
    return np.asarray(rows, dtype=float).reshape(len(rows), len(STYLE_FEATURES))


def fit_fractional_logit(features: np.ndarray, targets: np.ndarray, *, l2: float = DEFAULT_L2) -> np.ndarray:
    """Coefficients (intercept first) of a fractional-response logistic regression.

    Minimises the mean binomial deviance with soft targets y ∈ [0, 1] — the quasi-likelihood
    of Papke & Wooldridge (1996), consistent for E[y|x] = σ(xβ) whatever y's distribution —
    plus (l2/2)·‖slopes‖². Solved with scipy's L-BFGS-B (convex problem, analytic gradient).
    """
    X, y = _design(features, targets)
    penalty = np.full(X.shape[1], l2)
    penalty[0] = 0.0

    def objective(beta: np.ndarray) -> tuple[float, np.ndarray]:
        eta = X @ beta
        # -[y log σ(η) + (1-y) log(1-σ(η))] written with logaddexp to stay finite for large |η|
        loss = np.mean(y * np.logaddexp(0.0, -eta) + (1 - y) * np.logaddexp(0.0, eta))
        grad = X.T @ (special.expit(eta) - y) / len(y) + penalty * beta
        return float(loss + 0.5 * np.sum(penalty * beta**2)), grad

    result = optimize.minimize(
        objective, np.zeros(X.shape[1]), jac=True, method="L-BFGS-B", options={"gtol": 1e-10, "ftol": 1e-14, "maxiter": 1000}
    )
    return np.asarray(result.x)


def fit_fractional_logit_batched(X: np.ndarray, y: np.ndarray, *, l2: float = DEFAULT_L2, max_iter: int = 60,
                                 n_free: int = 1, weights: np.ndarray | None = None) -> np.ndarray:
    """Same objective as ``fit_fractional_logit`` for a batch of data sets at once.

    X: (B, m, k) with the intercept column included; y: (B, m). Written by hand because a
    bootstrap refits the model thousands of times: one vectorised Newton–Raphson over the
    batch takes milliseconds where 2000 sequential scipy fits take seconds. Tests check that it
    agrees with the scipy fit. The first ``n_free`` columns are unpenalised intercepts (the
    probe fit, bias/probes.py, has two); ``weights`` (B, m) weight rows (0 = padding), and the
    loss is then the weighted mean.
    """
    B, m, k = X.shape
    penalty = np.full(k, l2)
    penalty[:n_free] = 0.0
    w = np.ones((B, m)) if weights is None else np.asarray(weights, dtype=float)
    total = w.sum(axis=1)
    beta = np.zeros((B, k))
    ridge = np.diag(penalty + 1e-12)  # 1e-12 keeps a constant-target Hessian invertible
    active = np.ones(B, dtype=bool)
    for _ in range(max_iter):
        Xa, ya, ba, wa = X[active], y[active], beta[active], w[active] / total[active, None]
        mu = special.expit(np.einsum("bmk,bk->bm", Xa, ba))
        grad = np.einsum("bmk,bm->bk", Xa, (mu - ya) * wa) + penalty * ba
        curvature = mu * (1 - mu) * wa
        hessian = np.matmul(Xa.transpose(0, 2, 1), Xa * curvature[..., None]) + ridge
        step = np.linalg.solve(hessian, grad[..., None])[..., 0]
        # Newton on a convex loss can overshoot far from the optimum; cap the step.
        step = np.clip(step, -5.0, 5.0)
        beta[active] = ba - step
        still = np.max(np.abs(step), axis=1) > 1e-10
        idx = np.flatnonzero(active)
        active[idx[~still]] = False
        if not active.any():
            break
    return beta


@dataclass(frozen=True)
class LengthControlledWinRate:
    raw: Estimate  # mean per-item soft preference for the candidate
    controlled: Estimate  # σ(θ): length (and style, if asked) terms set to zero
    coefficients: dict[str, float]  # "candidate" (θ), "length" (φ), and style terms if used
    length_sd: float  # sd of length differences used to scale the tanh term
    style_control: bool
    warnings: list[str] = field(default_factory=list)
    # False when the preference is fully explained by which answer is longer (quasi-complete
    # separation): the GLM's candidate term is then not identified and its CI is an artefact of the
    # L2 penalty, however narrow it looks.
    identified: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "identified": self.identified,
            "raw": self.raw.to_dict(),
            "controlled": self.controlled.to_dict(),
            "coefficients": dict(self.coefficients),
            "length_sd": self.length_sd,
            "style_control": self.style_control,
            "warnings": list(self.warnings),
        }


def length_controlled_win_rate(
    preferences: Sequence[float] | np.ndarray,
    candidate_texts: Sequence[str],
    baseline_texts: Sequence[str],
    *,
    style_control: bool = False,
    length_fn: Callable[[str], float] = len,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: str,
    l2: float = DEFAULT_L2,
    raw: Estimate | None = None,
) -> LengthControlledWinRate:
    """Length- (and optionally style-) controlled win rate with a bootstrap CI over items.

    ``preferences[i]`` is item i's soft preference for the candidate in [0, 1] (e.g. the mean
    of the judge calls' P(candidate better), ties as 0.5). Each bootstrap resample refits
    the GLM, so the CI carries the uncertainty of the length slope too. Pass ``raw`` to reuse
    a raw win-rate estimate the caller already has (e.g. a clustered one) instead of
    bootstrapping the mean of ``preferences`` again.
    """
    y = np.asarray(preferences, dtype=float)
    n = y.size
    if len(candidate_texts) != n or len(baseline_texts) != n:
        raise InvalidInput(
            f"need one candidate and one baseline text per preference ({n}); got "
            f"{len(candidate_texts)} and {len(baseline_texts)}",
            field="items",
        )
    length_diff = np.array([length_fn(c) - length_fn(b) for c, b in zip(candidate_texts, baseline_texts)], dtype=float)
    tanh_length, sd = length_feature(length_diff)
    columns = [tanh_length]
    names = ["length"]
    if style_control:
        columns.extend(style_features(candidate_texts, baseline_texts).T)
        names.extend(STYLE_FEATURES)
    features = np.column_stack(columns)
    result = controlled_win_rate_from_features(
        y, features, names, length_sd=sd, style_control=style_control,
        confidence=confidence, n_resamples=n_resamples, seed=seed, l2=l2, raw=raw,
    )
    if length_separates(y, length_diff):
        result = dataclasses.replace(result, identified=False, warnings=[*result.warnings, (
            "the judge preferred the longer answer on every item where lengths differ: quality cannot be "
            "separated from length on these items, so the controlled win rate is not identified (its CI "
            "reflects the fit's penalty, not the data); add items where the better answer is the shorter one")])
    minority = min(int(np.sum(length_diff > 0)), int(np.sum(length_diff < 0)))
    if sd > 0 and minority < EXTRAPOLATION_SHARE * n:
        longer = "candidate" if np.sum(length_diff > 0) > np.sum(length_diff < 0) else "baseline"
        result.warnings.append(
            f"the {longer} is longer on {n - minority - int(np.sum(length_diff == 0))} of {n} items, so the "
            "controlled win rate extrapolates to equal length and leans on the GLM's form; add items where "
            "the answers are of similar length, or read it with care"
        )
    return result


def length_separates(preferences: np.ndarray, length_diff: np.ndarray) -> bool:
    """True when every item's preference sides with the longer (or every one with the shorter) answer."""
    longer, shorter = length_diff > 0, length_diff < 0
    if not longer.any() or not shorter.any():
        return False
    y = np.asarray(preferences, dtype=float)
    favours_longer = bool(np.all(y[longer] > 0.5) and np.all(y[shorter] < 0.5))
    favours_shorter = bool(np.all(y[longer] < 0.5) and np.all(y[shorter] > 0.5))
    return favours_longer or favours_shorter


def controlled_win_rate_from_features(
    preferences: np.ndarray,
    features: np.ndarray,
    feature_names: Sequence[str],
    *,
    length_sd: float = math.nan,
    style_control: bool = False,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: str,
    l2: float = DEFAULT_L2,
    raw: Estimate | None = None,
) -> LengthControlledWinRate:
    """The GLM step of ``length_controlled_win_rate`` on precomputed features (n, k)."""
    X, y = _design(features, preferences)
    if len(feature_names) != X.shape[1] - 1:
        raise InvalidInput("one name per feature column is needed", field="feature_names")
    if raw is None:
        raw = bootstrap_mean(y, confidence=confidence, n_resamples=n_resamples, seed=f"{seed}/raw")
    beta = fit_fractional_logit(features, y, l2=l2)
    controlled_point = float(special.expit(beta[0]))

    def statistic(index: np.ndarray) -> np.ndarray:
        lead = index.shape[:-1]
        flat = index.reshape(-1, index.shape[-1])
        b = fit_fractional_logit_batched(X[flat], y[flat], l2=l2)
        controlled_rates: np.ndarray = special.expit(b[:, 0]).reshape(lead)
        return controlled_rates

    low, high = bootstrap_index_ci(statistic, y.size, confidence=confidence, n_resamples=n_resamples, seed=f"{seed}/controlled")
    controlled = Estimate(controlled_point, low, high, int(y.size))
    coefficients = {"candidate": float(beta[0])} | {name: float(c) for name, c in zip(feature_names, beta[1:])}
    label = "style-controlled" if style_control else "length-controlled"
    notes = []
    raw_point = raw.estimate
    # bootstrap_mean always sets the point; a caller-passed raw must carry one (the gap needs it)
    assert raw_point is not None
    if abs(controlled_point - raw_point) > DIVERGENCE_WARNING:
        notes.append(
            f"{label} win rate {controlled_point:.3f} differs from the raw {raw_point:.3f} by "
            f"{abs(controlled_point - raw_point):.3f} (> {DIVERGENCE_WARNING}): the judge's preference "
            f"tracks answer {'length/style' if style_control else 'length'}; trust the controlled figure"
        )
    return LengthControlledWinRate(raw, controlled, coefficients, length_sd, style_control, notes)


@dataclass(frozen=True)
class LengthAdjustedDifference:
    raw: Estimate  # mean score difference (candidate − baseline)
    slope_per_100: Estimate | None  # score points per 100 length units (characters by default)
    adjusted: Estimate  # intercept: the difference predicted at equal length
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "raw": self.raw.to_dict(),
            "slope_per_100_length_units": self.slope_per_100.to_dict() if self.slope_per_100 else None,
            "adjusted": self.adjusted.to_dict(),
            "warnings": list(self.warnings),
        }


def length_adjusted_difference(
    differences: Sequence[float] | np.ndarray,
    candidate_texts: Sequence[str],
    baseline_texts: Sequence[str],
    *,
    length_fn: Callable[[str], float] = len,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: str,
) -> LengthAdjustedDifference:
    """OLS of per-item score difference on length difference, with bootstrap CIs over items."""
    d = np.asarray(differences, dtype=float)
    if len(candidate_texts) != d.size or len(baseline_texts) != d.size:
        raise InvalidInput("need one candidate and one baseline text per score difference", field="items")
    if d.size == 0 or not np.all(np.isfinite(d)):
        raise InvalidInput("score differences must be a non-empty list of finite numbers", field="differences")
    x = np.array([length_fn(c) - length_fn(b) for c, b in zip(candidate_texts, baseline_texts)], dtype=float) / 100.0
    raw = bootstrap_mean(d, confidence=confidence, n_resamples=n_resamples, seed=f"{seed}/raw")
    if np.unique(x).size < 3:
        # Too few distinct length gaps to fit a line: nothing to adjust for.
        return LengthAdjustedDifference(
            raw, None, raw, ["length differences take fewer than 3 distinct values; no length adjustment made"]
        )

    def fit(index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        xs, ds = x[index], d[index]
        x_mean, d_mean = xs.mean(axis=-1, keepdims=True), ds.mean(axis=-1, keepdims=True)
        sxx = ((xs - x_mean) ** 2).sum(axis=-1)
        sxd = ((xs - x_mean) * (ds - d_mean)).sum(axis=-1)
        # A resample whose gaps are all equal has no slope information: treat it as flat.
        slope = np.divide(sxd, sxx, out=np.zeros_like(sxd), where=sxx > 0)
        return slope, d_mean[..., 0] - slope * x_mean[..., 0]

    everything = np.arange(d.size)
    slope_point, intercept_point = (float(v) for v in fit(everything))
    s_low, s_high = bootstrap_index_ci(lambda i: fit(i)[0], d.size, seed=f"{seed}/slope",
                                       confidence=confidence, n_resamples=n_resamples)
    a_low, a_high = bootstrap_index_ci(lambda i: fit(i)[1], d.size, seed=f"{seed}/adjusted",
                                       confidence=confidence, n_resamples=n_resamples)
    slope = Estimate(slope_point, s_low, s_high, int(d.size))
    adjusted = Estimate(intercept_point, a_low, a_high, int(d.size))
    notes = []
    if slope.excludes(0.0):
        notes.append(
            f"score difference tracks length: {slope_point:+.3f} points per 100 length units "
            f"[{s_low:+.3f}, {s_high:+.3f}]; the length-adjusted difference is {intercept_point:+.3f}"
        )
    return LengthAdjustedDifference(raw, slope, adjusted, notes)


def _design(features: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(targets, dtype=float)
    F = np.asarray(features, dtype=float)
    if F.ndim == 1:
        F = F[:, None]
    if y.ndim != 1 or F.shape[0] != y.size:
        raise InvalidInput(f"need one feature row per preference ({y.size}); got {F.shape[0]}", field="features")
    if y.size == 0:
        raise InvalidInput("no scored items to fit; every item was unscored", field="preferences")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(F))):
        raise InvalidInput("preferences and features must be finite; drop unscored items first", field="preferences")
    if np.any((y < 0) | (y > 1)):
        raise InvalidInput("preferences must lie in [0, 1] (1 = candidate preferred)", field="preferences")
    return np.column_stack([np.ones(y.size), F]), y
