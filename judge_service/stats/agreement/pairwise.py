"""Agreement between two raters on pairwise votes (A, B, tie): accuracy, kappa, macro F1."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from sklearn.metrics import cohen_kappa_score, precision_recall_fscore_support

from judge_service.errors import InvalidInput
from judge_service.stats.agreement.bootstrap import BootstrapConfig, _bootstrap, _quiet
from judge_service.stats.agreement.inputs import POSITIONAL_WARNING_RATIO, VOTES, _check_pair, check_votes
from judge_service.stats.agreement.scores import _confusion_rows, _kappa_rows
from judge_service.stats.estimate import Estimate, undefined


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
    two_order: TwoOrderAccuracy | None = None  # with a_swapped: the usual two-order accuracy figures


@dataclass(frozen=True)
class TwoOrderAccuracy:
    """Accuracy of a judge seen in both orders, on items where a, a_swapped and b are all present.

    ``net_vote`` sums the two orders' votes (A = +1, tie = 0, B = −1) and takes the sign, so one
    order's tie defers to the other's vote; ``consistent_vote`` is FastChat's rule (a winner only
    when both orders name it, else a tie). The response's headline ``accuracy`` is ``first_order``.
    """

    n: int
    first_order: Estimate
    second_order: Estimate
    mean_of_orders: Estimate
    both_orders_correct: Estimate
    net_vote: Estimate
    consistent_vote: Estimate
    headline: str = "first_order"


@dataclass(frozen=True)
class PairwiseGroup:
    """Pairwise agreement within one group (category, subset) of items."""

    group: str
    n: int
    n_missing: int
    accuracy: Estimate
    accuracy_without_ties: Estimate
    cohen_kappa: Estimate
    macro_f1: Estimate
    two_order_mean: Estimate | None = None


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
        two_order = _two_order(a, a_swapped, b, vote_map, bootstrap)
    else:
        two_order = None
    return PairwiseAgreement(n, accuracy, no_ties, kappa, macro["precision"], macro["recall"], macro["f1"],
                             positional, classes, n_missing, with_missing, tuple(warnings_out), two_order)


_SIGN = {"A": 1, "tie": 0, "B": -1}


def _two_order(a: Sequence[str | None], a_swapped: Sequence[str | None], b: Sequence[str | None],
               vote_map: dict[str, str] | None, bootstrap: BootstrapConfig) -> TwoOrderAccuracy:
    rows = [(x, y, z) for x, y, z in zip(a, a_swapped, b) if x is not None and y is not None and z is not None]
    m = len(rows)
    if m == 0:
        none = undefined(0, "no item with a, a_swapped and b all present")
        return TwoOrderAccuracy(0, none, none, none, none, none, none)
    first = np.array([_SIGN[str(v)] for v in check_votes([r[0] for r in rows], "a", vote_map, aliases=True)])
    second = np.array([_SIGN[str(v)] for v in check_votes([r[1] for r in rows], "a_swapped", vote_map, aliases=True)])
    truth = np.array([_SIGN[str(v)] for v in check_votes([r[2] for r in rows], "b", vote_map, aliases=True)])
    net = np.sign(first + second)
    consistent = np.where(first == second, first, 0)
    right = {"first_order": first == truth, "second_order": second == truth,
             "mean_of_orders": ((first == truth).astype(float) + (second == truth)) / 2,
             "both_orders_correct": (first == truth) & (second == truth),
             "net_vote": net == truth, "consistent_vote": consistent == truth}

    def share(values: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        return lambda idx: values[idx].mean(axis=-1)

    est = {name: _bootstrap(float(np.mean(v)), share(v), m, m, bootstrap, "two_order/" + name)
           for name, v in right.items()}
    return TwoOrderAccuracy(m, est["first_order"], est["second_order"], est["mean_of_orders"],
                            est["both_orders_correct"], est["net_vote"], est["consistent_vote"])


def grouped_pairwise_agreement(a: Sequence[str | None], b: Sequence[str | None], groups: Sequence[str | int], *,
                               a_swapped: Sequence[str | None] | None = None,
                               bootstrap: BootstrapConfig = BootstrapConfig(),
                               vote_map: dict[str, str] | None = None) -> tuple[PairwiseGroup, ...]:
    """:func:`pairwise_agreement` within each group (category, subset), groups in first-seen order.

    A group with fewer than 2 items voted on both sides gets undefined figures with the reason.
    Each group's CIs resample that group's items, seeded by the group's name.
    """
    if len(groups) != len(a):
        raise InvalidInput(f"'groups' has {len(groups)} entries but 'a' has {len(a)}; give one per item",
                           field="groups")
    keys = [str(g) for g in groups]
    out: list[PairwiseGroup] = []
    for g in dict.fromkeys(keys):
        idx = [i for i, k in enumerate(keys) if k == g]
        ga, gb = [a[i] for i in idx], [b[i] for i in idx]
        gs = None if a_swapped is None else [a_swapped[i] for i in idx]
        voted = sum(1 for x, y in zip(ga, gb) if x is not None and y is not None)
        if voted < 2:
            none = undefined(voted, f"group '{g}' has {voted} item(s) voted on both sides; figures need 2")
            out.append(PairwiseGroup(g, voted, len(idx) - voted, none, none, none, none,
                                     None if gs is None else none))
            continue
        config = replace(bootstrap, seed=f"{bootstrap.seed}/group/{g}")
        res = pairwise_agreement(ga, gb, a_swapped=gs, bootstrap=config, vote_map=vote_map)
        out.append(PairwiseGroup(g, res.n, res.n_missing, res.accuracy, res.accuracy_without_ties, res.cohen_kappa,
                                 res.macro_f1, None if res.two_order is None else res.two_order.mean_of_orders))
    return tuple(out)


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
