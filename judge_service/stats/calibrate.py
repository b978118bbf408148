"""Calibrating a judge to human ratings: isotonic score mapping and a pairwise tie threshold.

Both fits are judged out of sample: K-fold cross-validation fits on K-1 folds and predicts the
held-out fold, so the reported "after calibration" figures are not flattered by the fit. The
mapping finally stored is fitted on all data and is plain breakpoints, so it round-trips through
JSON and is applied later without sklearn (``apply_mapping``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypedDict

import numpy as np
from scipy import stats as sps
from sklearn.isotonic import IsotonicRegression
from sklearn.model_selection import KFold

from judge_service.errors import InvalidInput
from judge_service.stats.agreement import VOTES, check_votes
from judge_service.stats.estimate import rng_from_seed


# ---------------------------------------------------------------------------------------------
# Isotonic mapping: judge score -> human scale
# ---------------------------------------------------------------------------------------------

class IsotonicMappingJson(TypedDict):
    """``IsotonicMapping`` as stored (JSON) and sent over HTTP."""

    kind: Literal["isotonic"]
    x: list[float]
    y: list[float]


@dataclass(frozen=True)
class IsotonicMapping:
    """A monotone piecewise-linear map given by breakpoints; clipped to the end values outside."""

    x: tuple[float, ...]
    y: tuple[float, ...]

    def to_json(self) -> IsotonicMappingJson:
        return {"kind": "isotonic", "x": list(self.x), "y": list(self.y)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> IsotonicMapping:
        # Any: decoded JSON from the database or a request, whose shape is checked right here.
        try:
            x = tuple(float(v) for v in data["x"])
            y = tuple(float(v) for v in data["y"])
        except (KeyError, TypeError, ValueError):
            raise InvalidInput("a stored mapping needs numeric lists 'x' and 'y'", field="mapping") from None
        if not x or len(x) != len(y) or any(b < a for a, b in zip(x, x[1:])):
            raise InvalidInput("a mapping's 'x' must be non-empty, increasing and as long as 'y'", field="mapping")
        return cls(x, y)


def fit_isotonic(judge_scores: Sequence[float] | np.ndarray, human_scores: Sequence[float] | np.ndarray) -> IsotonicMapping:
    """Fit an increasing isotonic map judge -> human on all data (sklearn, out_of_bounds='clip')."""
    x, y = _paired_scores(judge_scores, human_scores, minimum=2)
    return _fit(x, y)


def _fit(x: np.ndarray, y: np.ndarray) -> IsotonicMapping:
    model = IsotonicRegression(increasing=True, out_of_bounds="clip").fit(x, y)
    return IsotonicMapping(tuple(map(float, model.X_thresholds_)), tuple(map(float, model.y_thresholds_)))


def apply_mapping(mapping: IsotonicMapping | Mapping[str, Any], scores: Sequence[float] | np.ndarray) -> np.ndarray:
    """Map scores with stored breakpoints.

    Linear interpolation between breakpoints and the end values beyond them, which is what
    IsotonicRegression.predict does with out_of_bounds='clip' (interp1d over X_thresholds_).
    """
    if isinstance(mapping, Mapping):
        mapping = IsotonicMapping.from_json(mapping)
    values = np.asarray(scores, dtype=float)
    mapped: np.ndarray = np.interp(values, np.asarray(mapping.x), np.asarray(mapping.y))
    return mapped


@dataclass(frozen=True)
class ScoreCalibration:
    """The mapping fitted on all data plus out-of-sample (cross-validated) error, before and after.

    "raw" compares judge scores with human scores as they are, which only means something when
    both use the same scale; the correlations are scale-free.
    """

    mapping: IsotonicMapping
    n: int
    folds: int
    raw_mae: float
    calibrated_mae: float
    raw_rmse: float
    calibrated_rmse: float
    raw_pearson: float | None
    calibrated_pearson: float | None
    raw_spearman: float | None
    calibrated_spearman: float | None


def calibrate_scores(judge_scores: Sequence[float] | np.ndarray, human_scores: Sequence[float] | np.ndarray, *,
                     folds: int = 5, seed: str = "calibration") -> ScoreCalibration:
    """Fit the isotonic map and report its K-fold out-of-sample error next to the raw error."""
    x, y = _paired_scores(judge_scores, human_scores, minimum=2 * _check_folds(folds))
    predicted = np.empty_like(y)
    for train, test in _splits(len(x), folds, seed):
        predicted[test] = apply_mapping(_fit(x[train], y[train]), x[test])
    return ScoreCalibration(
        mapping=_fit(x, y), n=len(x), folds=folds,
        raw_mae=float(np.mean(np.abs(x - y))), calibrated_mae=float(np.mean(np.abs(predicted - y))),
        raw_rmse=float(np.sqrt(np.mean((x - y) ** 2))), calibrated_rmse=float(np.sqrt(np.mean((predicted - y) ** 2))),
        raw_pearson=_corr(sps.pearsonr, x, y), calibrated_pearson=_corr(sps.pearsonr, predicted, y),
        raw_spearman=_corr(sps.spearmanr, x, y), calibrated_spearman=_corr(sps.spearmanr, predicted, y),
    )


class _CorrelationResult(Protocol):
    """What scipy's pearsonr and spearmanr return (scipy ships no type information)."""

    @property
    def statistic(self) -> float: ...


def _corr(fn: Callable[[np.ndarray, np.ndarray], _CorrelationResult], a: np.ndarray, b: np.ndarray) -> float | None:
    # a calibrated fold can be constant (isotonic regression flattens noise); report no value then
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(fn(a, b).statistic)


def _paired_scores(judge_scores: Sequence[float] | np.ndarray, human_scores: Sequence[float] | np.ndarray,
                   minimum: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(judge_scores, dtype=float)
    y = np.asarray(human_scores, dtype=float)
    if x.ndim != 1 or y.ndim != 1 or len(x) != len(y):
        raise InvalidInput(f"judge and human scores must be paired lists of equal length; got {x.size} and {y.size}",
                           field="human_scores")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise InvalidInput("scores contain a missing or infinite value; drop unscored items first", field="judge_scores")
    if len(x) < minimum:
        raise InvalidInput(f"calibration needs at least {minimum} paired items here; got {len(x)}", field="judge_scores")
    return x, y


def _check_folds(folds: int) -> int:
    if folds < 2:
        raise InvalidInput(f"folds must be at least 2 for an out-of-sample estimate; got {folds}", field="folds")
    return folds


def _splits(n: int, folds: int, seed: str) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(train, test) index arrays of each fold."""
    state = int(rng_from_seed(seed).integers(2**31 - 1))
    splits: Iterator[tuple[np.ndarray, np.ndarray]] = KFold(n_splits=folds, shuffle=True, random_state=state).split(np.arange(n))
    return splits


# ---------------------------------------------------------------------------------------------
# Pairwise: the tie threshold on P(A better)
# ---------------------------------------------------------------------------------------------

def predict_votes(prob_a: Sequence[float] | np.ndarray, tie_threshold: float) -> np.ndarray:
    """'tie' when |p - 0.5| < t (and always at exactly 0.5), else 'A' when p > 0.5, 'B' when p < 0.5."""
    p = np.asarray(prob_a, dtype=float)
    distance = np.abs(p - 0.5)
    return np.where((distance < tie_threshold) | (distance == 0), "tie", np.where(p > 0.5, "A", "B"))


@dataclass(frozen=True)
class TieThreshold:
    """The threshold fitted on all data; accuracies against human votes, the calibrated one out of sample."""

    threshold: float
    n: int
    folds: int
    raw_accuracy: float          # t = 0: only p == 0.5 is a tie
    calibrated_accuracy: float   # K-fold: t fitted on K-1 folds, applied to the held-out fold
    in_sample_accuracy: float    # the final t on all data (optimistic; for reference only)


def fit_tie_threshold(prob_a: Sequence[float] | np.ndarray, human_votes: Sequence[str], *,
                      folds: int = 5, seed: str = "tie-threshold") -> TieThreshold:
    """Choose t maximising accuracy of ``predict_votes(prob_a, t)`` against human votes (A/B/tie)."""
    p = np.asarray(prob_a, dtype=float)
    votes = check_votes(human_votes, "human_votes")
    if p.ndim != 1 or len(p) != len(votes):
        raise InvalidInput(f"prob_a and human_votes must be paired; got {p.size} and {len(votes)}", field="human_votes")
    if not (np.isfinite(p).all() and ((p >= 0) & (p <= 1)).all()):
        raise InvalidInput("prob_a must be probabilities in [0, 1]", field="prob_a")
    if len(p) < 2 * _check_folds(folds):
        raise InvalidInput(f"fitting a tie threshold needs at least {2 * folds} items; got {len(p)}", field="prob_a")
    predicted = np.empty(len(p), dtype=object)
    for train, test in _splits(len(p), folds, seed):
        predicted[test] = predict_votes(p[test], _best_threshold(p[train], votes[train]))
    threshold = _best_threshold(p, votes)
    return TieThreshold(
        threshold=threshold, n=len(p), folds=folds,
        raw_accuracy=float(np.mean(predict_votes(p, 0.0) == votes)),
        calibrated_accuracy=float(np.mean(predicted == votes)),
        in_sample_accuracy=float(np.mean(predict_votes(p, threshold) == votes)),
    )


def _best_threshold(p: np.ndarray, votes: np.ndarray) -> float:
    """Exhaustive search over the thresholds that change a prediction, in O(n log n).

    Sorting items by d = |p - 0.5|, a threshold between consecutive distinct d's turns exactly a
    prefix into ties, so accuracy(prefix k) = ties correct in the prefix + decided correct after.
    Candidates are midpoints; the smallest best one wins (fewest ties among equals).
    """
    distance = np.abs(p - 0.5)
    order = np.argsort(distance, kind="stable")
    d = distance[order]
    tie_correct = (votes[order] == VOTES[2]).astype(int)
    side = np.where(p[order] > 0.5, VOTES[0], np.where(p[order] < 0.5, VOTES[1], VOTES[2]))
    decided_correct = (votes[order] == side).astype(int)
    # prefix of length k is tied: accuracy = sum(tie_correct[:k]) + sum(decided_correct[k:])
    tie_cum = np.concatenate([[0], np.cumsum(tie_correct)])
    decided_tail = decided_correct.sum() - np.concatenate([[0], np.cumsum(decided_correct)])
    boundaries = np.flatnonzero(np.diff(d) > 0) + 1          # prefix lengths between distinct d's
    zero_ties = int(np.searchsorted(d, 0.0, side="right"))    # p == 0.5 is always a tie
    lengths = np.concatenate([[zero_ties], boundaries[boundaries > zero_ties], [len(d)]])
    correct = tie_cum[lengths] + decided_tail[lengths]
    k = int(lengths[np.argmax(correct)])
    if k == zero_ties:
        return 0.0
    if k == len(d):
        return float(np.nextafter(d[-1], np.inf))
    return float((d[k - 1] + d[k]) / 2)
