"""Agreement among many raters: alpha over all, each rater against the rest, every pair."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import cohen_kappa_score

from judge_service.errors import InvalidInput, LabelSetMismatch
from judge_service.stats.agreement.alpha import krippendorff_alpha
from judge_service.stats.agreement.bootstrap import BootstrapConfig, _bootstrap, _quiet, _rowwise
from judge_service.stats.agreement.inputs import (
    VOTES,
    check_on_scale,
    check_scale,
    check_votes,
    label_overlap_warnings,
)
from judge_service.stats.agreement.scores import (
    _category,
    _check_variant,
    _kappa_rows,
    _pooled_correlations,
    _sort_key,
)
from judge_service.stats.estimate import Estimate, undefined


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
    warnings: tuple[str, ...] = ()  # a rater whose labels barely overlap the others' (a shifted scale)


def rater_agreement(ratings: Sequence[Sequence[float | str | None]] | np.ndarray, kind: str, *,
                    labels: Sequence[float | str] | None = None, kendall_variant: str = "b",
                    bootstrap: BootstrapConfig = BootstrapConfig()) -> RaterAgreement:
    """``ratings`` is raters x items with None/nan for missing; ``kind`` is ordinal, interval or pairwise.

    Alpha's level follows the kind (pairwise votes are nominal). Scores: each rater vs the mean of
    the others on items both cover (Pearson, Spearman, Kendall). Votes: each rater vs the strict
    majority of the others (accuracy, Cohen's kappa), plus Cohen's kappa for every pair of raters.
    The CI of alpha resamples units.
    """
    if kind not in ("ordinal", "interval", "pairwise", "nominal"):
        raise InvalidInput(f"unknown kind '{kind}'; use ordinal, interval, nominal or pairwise", field="kind")
    _check_variant(kendall_variant)
    matrix, values = _ratings_matrix(ratings, kind, labels)
    raters, units = matrix.shape
    level = {"pairwise": "nominal", "nominal": "nominal", "ordinal": "ordinal", "interval": "interval"}[kind]
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
    k = len(values) if values is not None else 0
    vs_rest = tuple(_rater_vs_rest(matrix, r, kind, kendall_variant, bootstrap, k) for r in range(raters))
    pairs: tuple[RaterPair, ...] = ()
    if level == "nominal":
        pairs = tuple(_rater_pair(matrix, i, j, bootstrap, k) for i in range(raters) for j in range(i + 1, raters))
    warn: list[str] = []
    numeric = None if kind == "pairwise" else matrix if values is None else _decoded(matrix, values)
    if numeric is not None:
        for r in range(raters):
            others = np.delete(numeric, r, axis=0).ravel()
            warn += label_overlap_warnings(numeric[r], others, (f"ratings row {r}", "the other rows"))
    return RaterAgreement(raters, units, level, alpha, vs_rest, pairs, tuple(warn))


def _decoded(matrix: np.ndarray, values: list[str]) -> np.ndarray | None:
    """Nominal codes back to the numbers they name, when every category is a number; else None."""
    try:
        numbers = np.array([float(v) for v in values])
    except ValueError:
        return None
    out = np.full(matrix.shape, np.nan)
    seen = ~np.isnan(matrix)
    out[seen] = numbers[matrix[seen].astype(int)]
    return out


def _ratings_matrix(ratings: Sequence[Sequence[float | str | None]] | np.ndarray, kind: str,
                    labels: Sequence[float | str] | None) -> tuple[np.ndarray, list[str] | None]:
    """The raters x units matrix (nan = missing) and, for categories, the category each code names."""
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
        return np.array([[np.nan if v is None else code[v] for v in r] for r in rows]), None
    if kind == "nominal":
        cats = [[None if v is None else _category(v) for v in r] for r in rows]
        seen = sorted({c for r in cats for c in r if c is not None}, key=_sort_key)
        if labels is not None:
            allowed = [_category(v) for v in labels]
            unexpected = [c for c in seen if c not in allowed]
            if unexpected:
                raise LabelSetMismatch(f"'ratings' has labels not in 'labels': {', '.join(unexpected[:10])}",
                                       field="ratings")
            seen = allowed
        code = {c: float(i) for i, c in enumerate(seen)}
        return np.array([[np.nan if c is None else code[c] for c in r] for r in cats]), seen
    try:
        matrix = np.array([[np.nan if v is None else float(v) for v in r] for r in rows])
    except (TypeError, ValueError):
        raise InvalidInput("'ratings' must hold numbers (or null for missing) for ordinal and interval kinds",
                           field="ratings") from None
    if np.isinf(matrix).any():
        raise InvalidInput("'ratings' contains an infinite value; use null for a missing rating", field="ratings")
    if labels is not None:
        check_on_scale(matrix[~np.isnan(matrix)], check_scale([float(v) for v in labels]), "ratings")
    return matrix, None


def _rater_vs_rest(matrix: np.ndarray, r: int, kind: str, kendall_variant: str,
                   config: BootstrapConfig, k: int = 0) -> RaterVsRest:
    mine = matrix[r]
    others = np.delete(matrix, r, axis=0)
    prefix = f"rater{r}/"
    if kind not in ("pairwise", "nominal"):
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
    k = k or len(VOTES)
    accuracy = _bootstrap(float(agree.mean()), lambda idx: agree[idx].mean(-1), n, n, config, prefix + "accuracy")
    kappa = _bootstrap(_quiet(lambda: cohen_kappa_score(ca, cb, labels=list(range(k)))),
                       lambda idx: _kappa_rows(ca[idx], cb[idx], k, None), n, n, config,
                       prefix + "cohen_kappa")
    return RaterVsRest(r, {"accuracy": accuracy, "cohen_kappa": kappa})


def _strict_majority(column: np.ndarray) -> float:
    values, counts = np.unique(column[~np.isnan(column)], return_counts=True)
    if values.size == 0 or (counts == counts.max()).sum() > 1:
        return np.nan
    return float(values[counts.argmax()])


def _rater_pair(matrix: np.ndarray, i: int, j: int, config: BootstrapConfig, k: int = 0) -> RaterPair:
    keep = ~np.isnan(matrix[i]) & ~np.isnan(matrix[j])
    n = int(keep.sum())
    if n < 2:
        return RaterPair(i, j, undefined(n, "fewer than 2 items voted on by both raters"))
    ca, cb = matrix[i, keep].astype(int), matrix[j, keep].astype(int)
    k = k or len(VOTES)
    kappa = _bootstrap(_quiet(lambda: cohen_kappa_score(ca, cb, labels=list(range(k)))),
                       lambda idx: _kappa_rows(ca[idx], cb[idx], k, None), n, n, config,
                       f"pair{i}-{j}/cohen_kappa")
    return RaterPair(i, j, kappa)
