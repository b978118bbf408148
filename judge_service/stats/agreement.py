"""Agreement between two raters (judge vs human, rater vs rater) and among many.

Arrays in, small frozen dataclasses out; every figure is an :class:`Estimate` with a bootstrap CI
and its n. No I/O and no pydantic here: the HTTP edge is ``judge_service.api.agreement``.

Conventions worth knowing before reading the numbers:

* The label scale of ordinal data is GIVEN (from the rubric or the request), never inferred from
  the data: quadratic-weighted kappa on y1=[1,2,4,4,5,1,2], y2=[1,2,4,5,5,2,2] is 0.9375 on the
  scale 1..5 but 0.872727 if the unused label 3 is dropped.
* In two-list statistics ``a`` is the rater under test (the judge) and ``b`` the reference (the
  human); only precision and recall are asymmetric.
* CIs come from ``scipy.stats.bootstrap`` (BCa) resampling units, pairs kept together, with the
  generator seeded from a string so a report is reproducible.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats as sps
from sklearn.metrics import cohen_kappa_score, precision_recall_fscore_support

from judge_service.errors import InvalidInput, LabelSetMismatch
from judge_service.stats.estimate import Estimate, rng_from_seed, undefined

ALPHA_LEVELS = ("nominal", "ordinal", "interval", "ratio")
VOTES = ("A", "B", "tie")
LEVELS = ("pooled", "grouped", "system")
KENDALL_VARIANTS = ("b", "c")
# Positional agreement below this share of the chance level means the second order's votes were
# most likely sent in display positions, not mapped back to the original A/B identities.
POSITIONAL_WARNING_RATIO = 0.5
_BATCH_CELLS = 2_000_000  # resampled indices held at once: bounds the bootstrap's memory on large inputs


# ---------------------------------------------------------------------------------------------
# Krippendorff's alpha
# ---------------------------------------------------------------------------------------------

def krippendorff_alpha(data: np.ndarray, level: str) -> float:
    """Krippendorff's alpha for ``data`` (raters x units, ``np.nan`` = missing).

    alpha = 1 - D_o / D_e computed from the coincidence matrix (Krippendorff 2011, "Computing
    Krippendorff's Alpha-Reliability", sections C-E): a unit with m_u pairable values contributes
    each ordered pair of its values with weight 1/(m_u - 1); units with fewer than two values
    are not pairable and drop out. Distances per level:
    nominal [c != k]; ordinal (sum_{g=c..k} n_g - (n_c + n_k)/2)^2; interval (c - k)^2;
    ratio ((c - k)/(c + k))^2.
    """
    if level not in ALPHA_LEVELS:
        raise InvalidInput(f"unknown level '{level}'; use one of {', '.join(ALPHA_LEVELS)}", field="level")
    matrix = np.asarray(data, dtype=float)
    if matrix.ndim != 2:
        raise InvalidInput(f"alpha needs a raters x units matrix; got an array with {matrix.ndim} dimension(s)",
                           field="ratings")
    if np.isinf(matrix).any():
        raise InvalidInput("ratings contain an infinite value; use null (nan) for a missing rating", field="ratings")
    domain = np.unique(matrix[~np.isnan(matrix)])
    if domain.size < 2:
        raise InvalidInput("alpha is undefined when every rating has the same value (no variation to agree on)",
                           field="ratings")
    # value_counts[u, v]: how many raters gave unit u the value domain[v]
    counts = (matrix.T[:, :, None] == domain[None, None, :]).sum(axis=1).astype(float)
    pairable = counts.sum(axis=1)
    counts = counts[pairable >= 2]
    if counts.shape[0] == 0:
        raise InvalidInput("alpha needs at least one unit rated by two or more raters", field="ratings")
    m_u = counts.sum(axis=1)
    coincidences = np.einsum("uc,uk->ck", counts / (m_u - 1)[:, None], counts) - np.diag((counts / (m_u - 1)[:, None]).sum(0))
    n_c = coincidences.sum(axis=0)
    n = n_c.sum()
    expected = (np.outer(n_c, n_c) - np.diag(n_c)) / (n - 1)
    delta = _alpha_distances(domain, n_c, level)
    disagreement_expected = (expected * delta).sum()
    if disagreement_expected == 0:
        raise InvalidInput("alpha is undefined: the pairable ratings take a single value", field="ratings")
    return float(1.0 - (coincidences * delta).sum() / disagreement_expected)


def _alpha_distances(domain: np.ndarray, n_c: np.ndarray, level: str) -> np.ndarray:
    c, k = domain[:, None], domain[None, :]
    distances: np.ndarray
    if level == "nominal":
        distances = (c != k).astype(float)
        return distances
    if level == "interval":
        distances = (c - k) ** 2
        return distances
    if level == "ratio":
        total = c + k
        distances = np.divide(c - k, total, out=np.zeros((domain.size, domain.size)), where=total != 0) ** 2
        return distances
    # ordinal: the distance between ranks counts the pairable values that lie between them
    cumulative = np.concatenate([[0.0], np.cumsum(n_c)])
    i = np.arange(domain.size)
    lo, hi = np.minimum(i[:, None], i[None, :]), np.maximum(i[:, None], i[None, :])
    between = cumulative[hi + 1] - cumulative[lo]
    distances = (between - (n_c[lo] + n_c[hi]) / 2) ** 2
    return distances


# ---------------------------------------------------------------------------------------------
# Results and the bootstrap
# ---------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------------------------

def _as_scores(values: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise InvalidInput(f"'{name}' must be a list of numbers", field=name) from None
    if arr.ndim != 1:
        raise InvalidInput(f"'{name}' must be a flat list of numbers", field=name)
    if not np.isfinite(arr).all():
        raise InvalidInput(f"'{name}' contains a missing or infinite value; drop items either side did not score",
                           field=name)
    return arr


def _check_pair(a: np.ndarray, b: np.ndarray, other: str = "b") -> None:
    if len(a) != len(b):
        raise InvalidInput(f"'a' has {len(a)} items but '{other}' has {len(b)}; they must be paired item by item",
                           field=other)
    if len(a) < 2:
        raise InvalidInput(f"agreement needs at least 2 items; got {len(a)}", field="a")


def check_scale(labels: Sequence[float]) -> np.ndarray:
    """The ordinal scale as a sorted float array; it must list at least two distinct numbers."""
    scale = np.asarray(labels, dtype=float)
    if scale.ndim != 1 or scale.size < 2 or not np.isfinite(scale).all():
        raise InvalidInput("'labels' must list the scale's values, at least two numbers, e.g. [1, 2, 3, 4, 5]",
                           field="labels")
    if np.unique(scale).size != scale.size or (np.diff(scale) < 0).any():
        raise InvalidInput("'labels' must be distinct and in increasing order, e.g. [1, 2, 3, 4, 5]", field="labels")
    return scale


def check_on_scale(values: np.ndarray, scale: np.ndarray, name: str) -> None:
    """Raise LabelSetMismatch naming the values of ``values`` that are not on ``scale``."""
    unexpected = np.setdiff1d(np.unique(values), scale)
    if unexpected.size:
        shown = ", ".join(_fmt(v) for v in unexpected[:10]) + (" ..." if unexpected.size > 10 else "")
        raise LabelSetMismatch(
            f"'{name}' has labels not on the scale [{', '.join(_fmt(v) for v in scale)}]: {shown}. "
            "Map them onto the scale (e.g. 0/1 vs 1/2 is a shift) or send the scale they use in 'labels'."
            + (" Fractional values look like averaged scores: send kind: \"interval\" (no scale needed)."
               if not all(float(v).is_integer() for v in unexpected) else ""),
            field=name)


# Common spellings of a pairwise vote in public label files, mapped onto A / B / tie (issue 14 §2).
# FastChat's MT-Bench judgments write "tie (inconsistent)" when the two orders disagree and
# "tie (bothbad)" for human ties; Chatbot Arena writes model_a / model_b. Numeric codes (PandaLM's
# 1 / 2 / 0) are ambiguous between files and need a declared ``vote_map``.
VOTE_ALIASES: dict[str, str] = {
    "a": "A", "b": "B", "tie": "tie",
    "a>b": "A", "b>a": "B", "a=b": "tie", "a<b": "B", "b<a": "A",
    "model_1": "A", "model_2": "B", "model_a": "A", "model_b": "B",
    "tie (inconsistent)": "tie", "tie (bothbad)": "tie", "both_bad": "tie", "draw": "tie",
}


def normalise_vote(vote: object, vote_map: dict[str, str] | None = None, aliases: bool = True) -> object:
    """A known (or declared, via ``vote_map``) spelling of a vote as 'A', 'B' or 'tie'; else unchanged."""
    if isinstance(vote, bool):
        return vote
    if isinstance(vote, int | float) and float(vote).is_integer():
        vote = str(int(vote))
    if isinstance(vote, str):
        if vote_map and vote in vote_map:
            return vote_map[vote]
        return VOTE_ALIASES.get(vote.strip().lower(), vote) if aliases else vote
    return vote


def check_votes(votes: Sequence[str | None] | Sequence[str], name: str, vote_map: dict[str, str] | None = None,
                aliases: bool = False) -> np.ndarray:
    """Votes as an object array of A/B/tie; ``aliases`` maps the common spellings (VOTE_ALIASES),
    which /v1/agreement does and calibration (whose votes come from our own parser) does not."""
    if vote_map:
        bad = sorted(k for k, v in vote_map.items() if v not in VOTES)
        if bad:
            raise InvalidInput(f"vote_map must map onto 'A', 'B' or 'tie'; '{bad[0]}' maps to {vote_map[bad[0]]!r}",
                               field="vote_map")
    arr = np.asarray([normalise_vote(v, vote_map, aliases) for v in votes], dtype=object)
    unexpected = sorted({str(v) for v in arr if v not in VOTES})
    if unexpected:
        raise LabelSetMismatch(f"'{name}' has votes other than 'A', 'B', 'tie': {', '.join(unexpected[:10])}. "
                               "Map them onto A/B/tie first; known spellings (1/2/0, A>B/A=B, model_a/model_b, "
                               "'tie (inconsistent)', any case) are mapped for you; send an unparseable verdict as "
                               "null (missing), not as 'tie'.",
                               field=name)
    return arr


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


# ---------------------------------------------------------------------------------------------
# Score agreement (ordinal and interval)
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ScoreAgreement:
    """Pooled agreement of two score lists. Discrete statistics need the scale (``labels``)."""

    n: int
    pearson: Estimate
    spearman: Estimate
    kendall: Estimate
    kendall_variant: str
    exact_agreement: Estimate
    within_one_agreement: Estimate
    quadratic_kappa: Estimate


@dataclass(frozen=True)
class Correlations:
    """Correlations at one level: pooled, grouped (per group, then averaged) or system (means)."""

    level: str
    n: int
    pearson: Estimate
    spearman: Estimate
    kendall: Estimate
    kendall_variant: str
    groups_used: int | None = None
    groups_skipped: int | None = None


def _check_variant(kendall_variant: str) -> None:
    if kendall_variant not in KENDALL_VARIANTS:
        raise InvalidInput(f"kendall_variant must be 'b' or 'c', got '{kendall_variant}'", field="kendall_variant")


def _pooled_correlations(a: np.ndarray, b: np.ndarray, kendall_variant: str,
                         config: BootstrapConfig, prefix: str = "") -> tuple[Estimate, Estimate, Estimate]:
    n = len(a)
    tau = _kendall(kendall_variant)
    tau_rows = _rowwise(tau)
    pearson = _bootstrap(_quiet(lambda: sps.pearsonr(a, b).statistic) if _varies(a, b) else np.nan,
                         lambda idx: _pearson_rows(a[idx], b[idx]), n, n, config, prefix + "pearson")
    spearman = _bootstrap(_quiet(lambda: sps.spearmanr(a, b).statistic) if _varies(a, b) else np.nan,
                          lambda idx: _spearman_rows(a[idx], b[idx]), n, n, config, prefix + "spearman")
    kendall = _bootstrap(tau(a, b) if _varies(a, b) else np.nan,
                         lambda idx: tau_rows(a[idx], b[idx]), n, n, config, prefix + f"kendall_tau_{kendall_variant}")
    return pearson, spearman, kendall


def _varies(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.ptp(a) > 0 and np.ptp(b) > 0)


def score_agreement(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, *,
                    labels: Sequence[float] | None = None, kendall_variant: str = "b",
                    bootstrap: BootstrapConfig = BootstrapConfig()) -> ScoreAgreement:
    """Pooled agreement of scores ``a`` (judge) and ``b`` (reference).

    Correlations always; exact, within-one and quadratic-weighted kappa only with the scale
    ``labels`` (within-one means at most one step apart on that scale).
    """
    _check_variant(kendall_variant)
    x, y = _as_scores(a, "a"), _as_scores(b, "b")
    _check_pair(x, y)
    n = len(x)
    if labels is not None:  # check the scale before any resampling work
        scale = check_scale(labels)
        check_on_scale(x, scale, "a")
        check_on_scale(y, scale, "b")
    pearson, spearman, kendall = _pooled_correlations(x, y, kendall_variant, bootstrap)
    if labels is None:
        why = "needs the label scale: send 'labels' (e.g. [1, 2, 3, 4, 5]); it is never inferred from the data"
        exact = within_one = kappa = undefined(n, why)
    else:
        ca, cb = np.searchsorted(scale, x), np.searchsorted(scale, y)
        exact = _bootstrap(float(np.mean(ca == cb)), lambda idx: np.mean(ca[idx] == cb[idx], axis=-1),
                           n, n, bootstrap, "exact_agreement")
        within_one = _bootstrap(float(np.mean(np.abs(ca - cb) <= 1)),
                                lambda idx: np.mean(np.abs(ca[idx] - cb[idx]) <= 1, axis=-1),
                                n, n, bootstrap, "within_one_agreement")
        point = _quiet(lambda: cohen_kappa_score(x, y, labels=scale, weights="quadratic"))
        kappa = _bootstrap(point, lambda idx: _kappa_rows(ca[idx], cb[idx], scale.size, "quadratic"),
                           n, n, bootstrap, "quadratic_kappa")
    return ScoreAgreement(n, pearson, spearman, kendall, kendall_variant, exact, within_one, kappa)


def _kappa_rows(ca: np.ndarray, cb: np.ndarray, k: int, weights: str | None) -> np.ndarray:
    """Cohen's kappa of label codes in [0, k), vectorised over leading axes.

    Same formula as sklearn's cohen_kappa_score: 1 - sum(W * O) / sum(W * E), E the outer product
    of the marginals; used for the resamples, sklearn for the point estimate.
    """
    confusion = _confusion_rows(ca, cb, k)
    total = confusion.sum(axis=(-2, -1), keepdims=True)
    expected = confusion.sum(-1, keepdims=True) * confusion.sum(-2, keepdims=True) / total
    i = np.arange(k)
    if weights is None:
        w = (i[:, None] != i[None, :]).astype(float)
    elif weights == "linear":
        w = np.abs(i[:, None] - i[None, :]).astype(float)
    else:
        w = (i[:, None] - i[None, :]).astype(float) ** 2
    num, den = (w * confusion).sum((-2, -1)), (w * expected).sum((-2, -1))
    with np.errstate(all="ignore"):
        return np.where(den > 0, 1 - num / np.where(den > 0, den, 1), np.nan)


def _confusion_rows(ca: np.ndarray, cb: np.ndarray, k: int) -> np.ndarray:
    """confusion[..., i, j] = #units with ca == i and cb == j."""
    lead = ca.shape[:-1]
    rows = int(np.prod(lead)) if lead else 1
    flat = (ca.reshape(rows, -1) * k + cb.reshape(rows, -1)) + (np.arange(rows) * k * k)[:, None]
    counts = np.bincount(flat.ravel(), minlength=rows * k * k).astype(float)
    return counts.reshape(*lead, k, k) if lead else counts.reshape(k, k)


def grouped_correlations(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray,
                         groups: Sequence[str | int], *, kendall_variant: str = "b",
                         bootstrap: BootstrapConfig = BootstrapConfig()) -> Correlations:
    """Correlate within each group (prompt, document), then average over groups.

    As in G-Eval and UniEval's summary-level scores: a group where either side is constant has
    no correlation and is skipped (and counted in ``groups_skipped``). The CI resamples groups.
    """
    _check_variant(kendall_variant)
    x, y = _as_scores(a, "a"), _as_scores(b, "b")
    _check_pair(x, y)
    keys = _as_ids(groups, len(x), "groups")
    tau = _kendall(kendall_variant)
    per_group: list[tuple[float, float, float]] = []
    skipped = 0
    for g in np.unique(keys):
        gx, gy = x[keys == g], y[keys == g]
        if len(gx) < 2 or not _varies(gx, gy):
            skipped += 1
            continue
        per_group.append((_quiet(lambda: sps.pearsonr(gx, gy).statistic),
                          _quiet(lambda: sps.spearmanr(gx, gy).statistic), tau(gx, gy)))
    used = len(per_group)
    if used == 0:
        why = f"every one of the {skipped} groups has a constant side or a single item; no correlation is defined"
        none = undefined(0, why)
        return Correlations("grouped", len(x), none, none, none, kendall_variant, 0, skipped)
    values = np.array(per_group)
    names = ("pearson", "spearman", f"kendall_tau_{kendall_variant}")

    def column_mean(j: int) -> Callable[[np.ndarray], np.ndarray]:
        return lambda idx: values[idx, j].mean(axis=-1)

    est = [_bootstrap(float(values[:, j].mean()), column_mean(j),
                      used, used, bootstrap, "grouped/" + names[j]) for j in range(3)]
    return Correlations("grouped", len(x), est[0], est[1], est[2], kendall_variant, used, skipped)


def system_correlations(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray,
                        systems: Sequence[str | int], *, kendall_variant: str = "b",
                        bootstrap: BootstrapConfig = BootstrapConfig()) -> Correlations:
    """Average each system's scores on both sides, then correlate the means (n = systems).

    The CI resamples items (keeping each item's system), which is the input-sampling
    uncertainty of the system means (Deutsch et al. 2021, "A Statistical Analysis of
    Summarization Evaluation Metrics using Resampling Methods").
    """
    _check_variant(kendall_variant)
    x, y = _as_scores(a, "a"), _as_scores(b, "b")
    _check_pair(x, y)
    keys = _as_ids(groups=systems, n=len(x), name="systems")
    names, codes = np.unique(keys, return_inverse=True)
    k = names.size
    if k < 3:
        none = undefined(k, f"system level needs at least 3 systems; got {k}")
        return Correlations("system", len(x), none, none, none, kendall_variant)

    def means(values: np.ndarray, idx: np.ndarray) -> np.ndarray:
        idx2 = idx.reshape(-1, idx.shape[-1])
        offsets = (np.arange(idx2.shape[0]) * k)[:, None]
        flat = (codes[idx2] + offsets).ravel()
        sums = np.bincount(flat, weights=values[idx2].ravel(), minlength=idx2.shape[0] * k)
        counts = np.bincount(flat, minlength=idx2.shape[0] * k)
        with np.errstate(all="ignore"):
            out = (sums / counts).reshape(idx2.shape[0], k)  # a system missing from a resample -> nan
        return out.reshape(*idx.shape[:-1], k)

    everything = np.arange(len(x))
    mx, my = means(x, everything), means(y, everything)
    tau = _kendall(kendall_variant)
    tau_rows = _rowwise(lambda p, q: tau(p, q) if np.isfinite(p).all() and np.isfinite(q).all() else np.nan)
    n = len(x)
    varies = _varies(mx, my)
    pearson = _bootstrap(_quiet(lambda: sps.pearsonr(mx, my).statistic) if varies else np.nan,
                         lambda idx: _pearson_rows(means(x, idx), means(y, idx)), n, k, bootstrap, "system/pearson")
    spearman = _bootstrap(_quiet(lambda: sps.spearmanr(mx, my).statistic) if varies else np.nan,
                          lambda idx: _spearman_nan_rows(means(x, idx), means(y, idx)), n, k, bootstrap,
                          "system/spearman")
    kendall = _bootstrap(tau(mx, my) if varies else np.nan,
                         lambda idx: tau_rows(means(x, idx), means(y, idx)), n, k, bootstrap,
                         f"system/kendall_tau_{kendall_variant}")
    return Correlations("system", n, pearson, spearman, kendall, kendall_variant)


def _spearman_nan_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    out = _spearman_rows(x, y)
    bad = ~(np.isfinite(x).all(-1) & np.isfinite(y).all(-1))
    return np.where(bad, np.nan, out)


def _as_ids(groups: Sequence[str | int], n: int, name: str) -> np.ndarray:
    keys = np.asarray([str(g) for g in groups])
    if len(keys) != n:
        raise InvalidInput(f"'{name}' has {len(keys)} entries but there are {n} items; give one id per item",
                           field=name)
    return keys


# ---------------------------------------------------------------------------------------------
# Pairwise votes (A, B, tie)
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PairwiseAgreement:
    """Agreement of pairwise votes ``a`` (judge) with reference votes ``b``."""

    n: int
    accuracy: Estimate
    accuracy_without_ties: Estimate
    cohen_kappa: Estimate
    macro_precision: Estimate
    macro_recall: Estimate
    macro_f1: Estimate
    positional_agreement: Estimate | None
    classes: tuple[str, ...]
    n_missing: int = 0  # items where a or b is null (excluded from the figures above)
    accuracy_missing_as_wrong: Estimate | None = None  # over all items, a missing vote counted wrong
    warnings: tuple[str, ...] = ()


def pairwise_agreement(a: Sequence[str | None], b: Sequence[str | None], *,
                       a_swapped: Sequence[str | None] | None = None,
                       bootstrap: BootstrapConfig = BootstrapConfig(),
                       vote_map: dict[str, str] | None = None) -> PairwiseAgreement:
    """Accuracy (ties included, and on items both sides call non-tie), Cohen's kappa, macro P/R/F1.

    Macro averages run over the classes present in either list (sklearn's default, as in
    PandaLM's compute_metrics), with ``b`` as the truth. ``a_swapped`` is the same rater's votes
    with the responses shown in the other order, written in the original A/B identities (as
    /v1/comparisons reports them); positional agreement is the share of items where both agree.
    """
    if len(a) != len(b):
        _check_pair(np.asarray(a, dtype=object), np.asarray(b, dtype=object))
    keep = np.array([x is not None and y is not None for x, y in zip(a, b)], dtype=bool)
    n_missing = int((~keep).sum())
    if a_swapped is not None:
        if len(a_swapped) != len(a):
            _check_pair(np.asarray(a, dtype=object), np.asarray(a_swapped, dtype=object), "a_swapped")
    va, vb = (check_votes([x for x, k in zip(a, keep) if k], "a", vote_map, aliases=True),
              check_votes([y for y, k in zip(b, keep) if k], "b", vote_map, aliases=True))
    _check_pair(va, vb)
    n = len(va)
    classes = tuple(c for c in VOTES if c in set(va) | set(vb))
    codes = {c: i for i, c in enumerate(VOTES)}
    ca = np.array([codes[v] for v in va])
    cb = np.array([codes[v] for v in vb])
    tie = codes["tie"]
    agree = ca == cb
    accuracy = _bootstrap(float(agree.mean()), lambda idx: agree[idx].mean(axis=-1), n, n, bootstrap, "accuracy")
    decided = (ca != tie) & (cb != tie)
    n_decided = int(decided.sum())
    if n_decided == 0:
        no_ties = undefined(0, "no item where both sides voted A or B")
    else:
        def decided_accuracy(idx: np.ndarray) -> np.ndarray:
            with np.errstate(all="ignore"):
                share: np.ndarray = (agree[idx] & decided[idx]).sum(-1) / decided[idx].sum(-1)
                return share
        no_ties = _bootstrap(float(agree[decided].mean()), decided_accuracy, n, n_decided, bootstrap,
                             "accuracy_without_ties")
    kappa = _bootstrap(_quiet(lambda: cohen_kappa_score(va, vb, labels=list(VOTES))),
                       lambda idx: _kappa_rows(ca[idx], cb[idx], len(VOTES), None), n, n, bootstrap, "cohen_kappa")
    present = np.array([codes[c] for c in classes])
    p, r, f1, _ = precision_recall_fscore_support(vb, va, labels=list(classes), average="macro", zero_division=0)

    def macro_column(j: int) -> Callable[[np.ndarray], np.ndarray]:
        return lambda idx: _macro_prf_rows(cb[idx], ca[idx], present)[j]

    macro = {name: _bootstrap(float(point), macro_column(j),
                              n, n, bootstrap, "macro_" + name)
             for j, (name, point) in enumerate((("precision", p), ("recall", r), ("f1", f1)))}
    # Missing votes counted as wrong: the figure a reader comparing judges that fail to parse
    # at different rates needs (issue 14 §2); the CI resamples all items, missing included.
    right = np.zeros(len(keep), dtype=bool)
    right[np.flatnonzero(keep)] = agree
    with_missing = _bootstrap(float(right.mean()), lambda idx: right[idx].mean(axis=-1), len(keep), len(keep),
                              bootstrap, "accuracy_missing_as_wrong")
    positional = None
    warnings_out: list[str] = []
    if a_swapped is not None:
        both = [(x, y) for x, y, k in zip(a, a_swapped, keep) if k and y is not None]
        vs = check_votes([y for _, y in both], "a_swapped", vote_map, aliases=True)
        va_s = check_votes([x for x, _ in both], "a", vote_map, aliases=True)
        same = va_s == vs
        m = len(same)
        # Chance agreement of two independent raters with these marginals: sum_k p_a(k) p_s(k).
        chance = sum(float(np.mean(va_s == c)) * float(np.mean(vs == c)) for c in VOTES) if m else 0.0
        if m >= 10 and float(same.mean()) < POSITIONAL_WARNING_RATIO * chance:
            warnings_out.append(
                f"positional agreement {same.mean():.2f} is far below the {chance:.2f} chance would give: the "
                "second order's votes are probably not mapped back to the original A/B identities (swap A and B "
                "in 'a_swapped')")
        positional = (_bootstrap(float(same.mean()), lambda idx: same[idx].mean(axis=-1), m, m, bootstrap,
                                 "positional_agreement") if m else undefined(0, "no item with both orders voted"))
    return PairwiseAgreement(n, accuracy, no_ties, kappa, macro["precision"], macro["recall"], macro["f1"],
                             positional, classes, n_missing, with_missing, tuple(warnings_out))


def _macro_prf_rows(truth: np.ndarray, pred: np.ndarray, classes: np.ndarray) -> tuple[np.ndarray, ...]:
    """Macro precision, recall and F1 (zero_division=0, as sklearn) vectorised over leading axes."""
    k = len(VOTES)
    confusion = _confusion_rows(truth, pred, k)[..., classes[:, None], classes[None, :]]
    tp = np.diagonal(confusion, axis1=-2, axis2=-1)
    predicted, actual = confusion.sum(-2), confusion.sum(-1)
    with np.errstate(all="ignore"):
        precision = np.where(predicted > 0, tp / np.where(predicted > 0, predicted, 1), 0.0)
        recall = np.where(actual > 0, tp / np.where(actual > 0, actual, 1), 0.0)
        both = predicted + actual
        f1 = np.where(both > 0, 2 * tp / np.where(both > 0, both, 1), 0.0)
    return precision.mean(-1), recall.mean(-1), f1.mean(-1)


# ---------------------------------------------------------------------------------------------
# Many raters
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RaterVsRest:
    """One rater against the others: vs their mean (scores) or their strict majority (votes)."""

    rater: int
    statistics: dict[str, Estimate] = field(default_factory=dict)


@dataclass(frozen=True)
class RaterPair:
    rater_a: int
    rater_b: int
    cohen_kappa: Estimate


@dataclass(frozen=True)
class RaterAgreement:
    """Agreement among raters: Krippendorff's alpha and each rater vs the rest (the human ceiling)."""

    raters: int
    units: int
    alpha_level: str
    alpha: Estimate
    rater_vs_rest: tuple[RaterVsRest, ...]
    pairs: tuple[RaterPair, ...] = ()


def rater_agreement(ratings: Sequence[Sequence[float | str | None]] | np.ndarray, kind: str, *,
                    labels: Sequence[float] | None = None, kendall_variant: str = "b",
                    bootstrap: BootstrapConfig = BootstrapConfig()) -> RaterAgreement:
    """``ratings`` is raters x items with None/nan for missing; ``kind`` is ordinal, interval or pairwise.

    Alpha's level follows the kind (pairwise votes are nominal). Scores: each rater vs the mean of
    the others on items both cover (Pearson, Spearman, Kendall). Votes: each rater vs the strict
    majority of the others (accuracy, Cohen's kappa), plus Cohen's kappa for every pair of raters.
    The CI of alpha resamples units.
    """
    if kind not in ("ordinal", "interval", "pairwise"):
        raise InvalidInput(f"unknown kind '{kind}'; use ordinal, interval or pairwise", field="kind")
    _check_variant(kendall_variant)
    matrix = _ratings_matrix(ratings, kind, labels)
    raters, units = matrix.shape
    level = {"pairwise": "nominal", "ordinal": "ordinal", "interval": "interval"}[kind]
    alpha_point = krippendorff_alpha(matrix, level)

    def alpha_rows(idx: np.ndarray) -> np.ndarray:
        def one(cols: np.ndarray) -> float:
            try:
                return krippendorff_alpha(matrix[:, cols], level)
            except InvalidInput:
                return np.nan
        return _rowwise(one)(idx)

    pairable_units = int((np.sum(~np.isnan(matrix), axis=0) >= 2).sum())
    alpha = _bootstrap(alpha_point, alpha_rows, units, pairable_units, bootstrap, "alpha")
    vs_rest = tuple(_rater_vs_rest(matrix, r, kind, kendall_variant, bootstrap) for r in range(raters))
    pairs: tuple[RaterPair, ...] = ()
    if kind == "pairwise":
        pairs = tuple(_rater_pair(matrix, i, j, bootstrap) for i in range(raters) for j in range(i + 1, raters))
    return RaterAgreement(raters, units, level, alpha, vs_rest, pairs)


def _ratings_matrix(ratings: Sequence[Sequence[float | str | None]] | np.ndarray, kind: str, labels: Sequence[float] | None) -> np.ndarray:
    rows = [list(r) for r in ratings]
    if len(rows) < 2:
        raise InvalidInput(f"'ratings' needs at least 2 raters (rows); got {len(rows)}", field="ratings")
    widths = {len(r) for r in rows}
    if len(widths) != 1:
        raise InvalidInput(f"every row of 'ratings' must have one entry per item; row lengths are {sorted(widths)}",
                           field="ratings")
    if kind == "pairwise":
        flat = [v for r in rows for v in r if v is not None]
        check_votes(flat, "ratings")
        code = {v: float(i) for i, v in enumerate(VOTES)}
        return np.array([[np.nan if v is None else code[v] for v in r] for r in rows])
    try:
        matrix = np.array([[np.nan if v is None else float(v) for v in r] for r in rows])
    except (TypeError, ValueError):
        raise InvalidInput("'ratings' must hold numbers (or null for missing) for ordinal and interval kinds",
                           field="ratings") from None
    if np.isinf(matrix).any():
        raise InvalidInput("'ratings' contains an infinite value; use null for a missing rating", field="ratings")
    if labels is not None:
        check_on_scale(matrix[~np.isnan(matrix)], check_scale(labels), "ratings")
    return matrix


def _rater_vs_rest(matrix: np.ndarray, r: int, kind: str, kendall_variant: str,
                   config: BootstrapConfig) -> RaterVsRest:
    mine = matrix[r]
    others = np.delete(matrix, r, axis=0)
    prefix = f"rater{r}/"
    if kind != "pairwise":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # all-nan columns are dropped just below
            rest = np.nanmean(others, axis=0)
        keep = ~np.isnan(mine) & ~np.isnan(rest)
        x, y = mine[keep], rest[keep]
        if keep.sum() < 2:
            none = undefined(int(keep.sum()), "fewer than 2 items rated by this rater and another")
            return RaterVsRest(r, {"pearson": none, "spearman": none, "kendall": none})
        pearson, spearman, kendall = _pooled_correlations(x, y, kendall_variant, config, prefix)
        return RaterVsRest(r, {"pearson": pearson, "spearman": spearman, "kendall": kendall})
    majority = np.array([_strict_majority(col) for col in others.T])
    keep = ~np.isnan(mine) & ~np.isnan(majority)
    n = int(keep.sum())
    if n < 2:
        none = undefined(n, "fewer than 2 items where this rater voted and the others have a strict majority")
        return RaterVsRest(r, {"accuracy": none, "cohen_kappa": none})
    ca, cb = mine[keep].astype(int), majority[keep].astype(int)
    agree = ca == cb
    accuracy = _bootstrap(float(agree.mean()), lambda idx: agree[idx].mean(-1), n, n, config, prefix + "accuracy")
    kappa = _bootstrap(_quiet(lambda: cohen_kappa_score(ca, cb, labels=[0, 1, 2])),
                       lambda idx: _kappa_rows(ca[idx], cb[idx], len(VOTES), None), n, n, config,
                       prefix + "cohen_kappa")
    return RaterVsRest(r, {"accuracy": accuracy, "cohen_kappa": kappa})


def _strict_majority(column: np.ndarray) -> float:
    values, counts = np.unique(column[~np.isnan(column)], return_counts=True)
    if values.size == 0 or (counts == counts.max()).sum() > 1:
        return np.nan
    return float(values[counts.argmax()])


def _rater_pair(matrix: np.ndarray, i: int, j: int, config: BootstrapConfig) -> RaterPair:
    keep = ~np.isnan(matrix[i]) & ~np.isnan(matrix[j])
    n = int(keep.sum())
    if n < 2:
        return RaterPair(i, j, undefined(n, "fewer than 2 items voted on by both raters"))
    ca, cb = matrix[i, keep].astype(int), matrix[j, keep].astype(int)
    kappa = _bootstrap(_quiet(lambda: cohen_kappa_score(ca, cb, labels=[0, 1, 2])),
                       lambda idx: _kappa_rows(ca[idx], cb[idx], len(VOTES), None), n, n, config,
                       f"pair{i}-{j}/cohen_kappa")
    return RaterPair(i, j, kappa)


# Kept for stats/calibrate.py until it moves to the one seeding rule in stats/estimate.py.
rng_from = rng_from_seed
