"""Agreement between two raters on scores (ordinal and interval): kappa, correlations, per group and per system."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps
from sklearn.metrics import cohen_kappa_score

from judge_service.errors import InvalidInput, LabelSetMismatch
from judge_service.stats.agreement.bootstrap import (
    BootstrapConfig,
    _bootstrap,
    _kendall,
    _pearson_rows,
    _quiet,
    _rowwise,
    _spearman_rows,
)
from judge_service.stats.agreement.inputs import (
    KENDALL_VARIANTS,
    _as_scores,
    _check_pair,
    check_on_scale,
    check_scale,
    label_overlap_warnings,
)
from judge_service.stats.estimate import Estimate, undefined


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
    warnings: tuple[str, ...] = ()  # likely encoding mistakes: label sets that barely overlap


@dataclass(frozen=True)
class NominalAgreement:
    """Agreement of unordered categories (numbers or names): exact agreement and unweighted Cohen's kappa."""

    n: int
    exact_agreement: Estimate
    cohen_kappa: Estimate
    classes: tuple[str, ...]
    warnings: tuple[str, ...] = ()


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
    return ScoreAgreement(n, pearson, spearman, kendall, kendall_variant, exact, within_one, kappa,
                          tuple(label_overlap_warnings(x, y)))


def nominal_agreement(a: Sequence[float | str], b: Sequence[float | str], *,
                      labels: Sequence[float | str] | None = None,
                      bootstrap: BootstrapConfig = BootstrapConfig()) -> NominalAgreement:
    """Exact agreement and unweighted Cohen's kappa of categories ``a`` (judge) and ``b`` (reference).

    Unweighted kappa does not depend on categories nobody used, so ``labels`` is optional; when
    given, every label must be in it. Numbers are categories here: 1 and 3 are as far apart as 1 and 2.
    """
    xa, xb = [_category(v) for v in a], [_category(v) for v in b]
    _check_pair(np.asarray(xa, dtype=object), np.asarray(xb, dtype=object))
    if labels is not None:
        allowed = [_category(v) for v in labels]
        for name, values in (("a", xa), ("b", xb)):
            unexpected = sorted(set(values) - set(allowed))
            if unexpected:
                raise LabelSetMismatch(f"'{name}' has labels not in 'labels': {', '.join(unexpected[:10])}; add them "
                                       "to 'labels' or map them first", field=name)
    classes = tuple(dict.fromkeys(allowed if labels is not None else sorted(set(xa) | set(xb), key=_sort_key)))
    codes = {c: i for i, c in enumerate(classes)}
    ca, cb = np.array([codes[v] for v in xa]), np.array([codes[v] for v in xb])
    n = len(ca)
    exact = _bootstrap(float(np.mean(ca == cb)), lambda idx: np.mean(ca[idx] == cb[idx], axis=-1), n, n, bootstrap,
                       "exact_agreement")
    kappa = _bootstrap(_quiet(lambda: cohen_kappa_score(ca, cb, labels=list(range(len(classes))))),
                       lambda idx: _kappa_rows(ca[idx], cb[idx], len(classes), None), n, n, bootstrap, "cohen_kappa")
    numeric = [_as_number(c) for c in classes]
    warn: list[str] = []
    if all(v is not None for v in numeric):
        value = {c: float(v) for c, v in zip(classes, numeric) if v is not None}
        warn = label_overlap_warnings(np.array([value[v] for v in xa]), np.array([value[v] for v in xb]))
    return NominalAgreement(n, exact, kappa, classes, tuple(warn))


def _category(value: float | str) -> str:
    # 1, 1.0 and "1" are one category; integer-valued numbers never come back as "1.0"
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidInput(f"nominal labels must be numbers or strings; got {value!r}", field="a")
    if isinstance(value, str):
        return value
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _as_number(category: str) -> float | None:
    try:
        return float(category)
    except ValueError:
        return None


def _sort_key(category: str) -> tuple[int, float, str]:
    number = _as_number(category)
    return (0, number, "") if number is not None else (1, 0.0, category)


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
