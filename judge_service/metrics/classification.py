"""Precision, recall and F1 (micro, macro, per class) and accuracy for single-label predictions.

Point values come from scikit-learn (``precision_recall_fscore_support``, ``accuracy_score``)
with ``zero_division=0``: a class never predicted has precision 0, a class absent from the
references has recall 0, and both absent gives F1 0 (sklearn would otherwise warn and still
use 0). The label set is fixed once — the ``labels`` given, else every label seen in the
predictions or references, sorted — so that bootstrap resamples that happen to miss a class
average over the same classes as the point estimate.

For the bootstrap each item contributes one-hot counts (true positive, predicted, actual per
class) and a correct flag; the scores are recomputed from their sums with the same formulas
(F1 = 2·TP / (predicted + actual), sklearn ≥ 1.3), so a resample costs a sum, not a refit.
Accuracy counts every item; precision/recall/F1 only the classes in the label set.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from judge_service.errors import InvalidInput
from judge_service.metrics.overlap import ItemStatistics, ScoreFn

CLASSIFICATION_METRICS = ("accuracy", "precision_micro", "recall_micro", "f1_micro",
                          "precision_macro", "recall_macro", "f1_macro")


def label_set(predictions: Sequence[str], references: Sequence[str], labels: Sequence[str] | None = None) -> list[str]:
    if labels is not None:
        if len(labels) == 0 or len(set(labels)) != len(labels):
            raise InvalidInput("labels must be a non-empty list without repeats", field="labels")
        return list(labels)
    return sorted(set(predictions) | set(references))


def classification_statistics(predictions: Sequence[str], references: Sequence[str], *,
                              labels: Sequence[str] | None = None) -> list[ItemStatistics]:
    """One ``ItemStatistics`` per name in ``CLASSIFICATION_METRICS``, sharing the count matrix."""
    if len(predictions) != len(references):
        raise InvalidInput(f"{len(predictions)} predictions but {len(references)} references", field="references")
    classes = label_set(predictions, references, labels)
    index = {c: i for i, c in enumerate(classes)}
    k = len(classes)
    pred_oh = np.zeros((len(predictions), k))
    gold_oh = np.zeros((len(predictions), k))
    for row, (p, g) in enumerate(zip(predictions, references)):
        if p in index:
            pred_oh[row, index[p]] = 1
        if g in index:
            gold_oh[row, index[g]] = 1
    correct = np.array([float(p == g) for p, g in zip(predictions, references)])
    # Columns: TP per class | predicted per class | actual per class | correct | 1
    stats = np.column_stack([pred_oh * gold_oh, pred_oh, gold_oh, correct, np.ones(len(predictions))])
    fns = _score_functions(k)
    point = _sklearn_scores(predictions, references, classes)
    return [ItemStatistics(name, stats, fns[name], correct.tolist() if name == "accuracy" else [],
                           corpus_score=point[name]) for name in CLASSIFICATION_METRICS]


def per_class_report(predictions: Sequence[str], references: Sequence[str], *,
                     labels: Sequence[str] | None = None) -> dict[str, dict[str, float]]:
    """{label: {precision, recall, f1, support}} from sklearn, zero_division=0."""
    from sklearn.metrics import precision_recall_fscore_support

    classes = label_set(predictions, references, labels)
    p, r, f, s = precision_recall_fscore_support(list(references), list(predictions), labels=classes, average=None,
                                                 zero_division=0)
    return {c: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, c in enumerate(classes)}


def _sklearn_scores(predictions: Sequence[str], references: Sequence[str], classes: list[str]) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    out = {"accuracy": float(accuracy_score(list(references), list(predictions)))}
    for average in ("micro", "macro"):
        p, r, f, _ = precision_recall_fscore_support(list(references), list(predictions), labels=classes,
                                                     average=average, zero_division=0)
        out |= {f"precision_{average}": float(p), f"recall_{average}": float(r), f"f1_{average}": float(f)}
    return out


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    ratio: np.ndarray = np.divide(num, den, out=np.zeros(np.broadcast(num, den).shape), where=den > 0)
    return ratio


def _score_functions(k: int) -> dict[str, ScoreFn]:
    def parts(s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return s[..., :k], s[..., k:2 * k], s[..., 2 * k:3 * k]

    def micro(which: str) -> ScoreFn:
        def fn(s: np.ndarray) -> np.ndarray:
            tp, pred, gold = (x.sum(axis=-1) for x in parts(s))
            return {"precision": _ratio(tp, pred), "recall": _ratio(tp, gold), "f1": _ratio(2 * tp, pred + gold)}[which]
        return fn

    def macro(which: str) -> ScoreFn:
        def fn(s: np.ndarray) -> np.ndarray:
            tp, pred, gold = parts(s)
            per_class = {"precision": _ratio(tp, pred), "recall": _ratio(tp, gold), "f1": _ratio(2 * tp, pred + gold)}[which]
            mean: np.ndarray = per_class.mean(axis=-1)
            return mean
        return fn

    fns: dict[str, ScoreFn] = {"accuracy": lambda s: s[..., 3 * k] / s[..., 3 * k + 1]}
    for which in ("precision", "recall", "f1"):
        fns[f"{which}_micro"] = micro(which)
        fns[f"{which}_macro"] = macro(which)
    return fns
