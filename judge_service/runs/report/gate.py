"""The judge-informativeness gate: do a judge's pairwise verdicts carry information about the items?

Measured per judge from the run's own calls, before any "beats" is allowed. A judge that always
picks the same slot, that almost never decides, or whose verdict flips with the order of the
answers is reading the layout, not the content: averaged over both orders its soft
probabilities sit near 0.5 with a tiny variance, so a small asymmetry in its label
probabilities becomes a narrow interval that excludes 0.5 (issue 14: the embedded judge chose
the first position in 18 of 18 decided calls and the old verdict said "beats").

Checks (each ``None`` = not applicable, too few calls to judge):

* ``first_position_share``: the share of decided calls that chose the answer shown first. Fails at
  ``>= FIRST_POSITION_LIMIT`` (or ``<= 1 - FIRST_POSITION_LIMIT``) when a two-sided binomial
  test against 0.5 also rejects at ``GATE_ALPHA`` (so 3 of 3 does not fail a judge).
* ``decided_share``: the share of scored calls that are not ties; fails below ``MIN_DECIDED_SHARE``
  on at least ``MIN_CALLS`` calls.
* ``position_consistency``: the share of (item, sample) pairs whose two orders named the same
  winner; fails below ``MIN_CONSISTENCY`` on at least ``MIN_CALLS`` pairs (a random judge on
  A/B/tie gives 1/3, one that always says "A" gives 0).
* ``panel_agreement``: Cohen's kappa of the judge's item verdicts (after both orders) with the
  strict majority of the other judges; fails at ``kappa <= 0`` on at least ``MIN_CALLS`` items.
  Reported, with two or more judges only.
* ``human_agreement``: with a calibration (the run's ``human_check`` or ``calibration``), the
  panel's agreement with the humans on that calibration's items (Cohen's kappa for votes,
  Spearman for scores), applied to each judge of the calibrated panel. Fails when its CI does not
  lie above 0 (agreement with the humans not shown to beat chance), on at least ``MIN_CALLS`` items.

Pure; no I/O.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats
from sklearn.metrics import cohen_kappa_score

from judge_service.bias.position import chosen_position
from judge_service.runs.report.inputs import TIE_TOLERANCE, WINNER_VALUE, PairwiseRecord
from judge_service.stats.estimate import Estimate, finite_or_none

FIRST_POSITION_LIMIT = 0.9
MIN_DECIDED_SHARE = 0.1
MIN_CONSISTENCY = 0.25
MIN_CALLS = 10
GATE_ALPHA = 0.05
FIX = ("configure a stronger judge (a larger local model or a remote one), or check its prompt and parser; "
       "judges that fail this gate are kept out of the headline")


@dataclass(frozen=True)
class GateCheck:
    name: str
    value: float | None
    passed: bool | None  # None: not applicable (too few calls, or a panel of one)
    detail: str

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "value": self.value, "passed": self.passed, "detail": self.detail}


@dataclass(frozen=True)
class JudgeGate:
    judge: str
    checks: tuple[GateCheck, ...]

    @property
    def informative(self) -> bool:
        return not any(c.passed is False for c in self.checks)

    @property
    def reason(self) -> str | None:
        """The failed checks in words, None when the judge passes."""
        failed = [c.detail for c in self.checks if c.passed is False]
        return "; ".join(failed) if failed else None

    def to_dict(self) -> dict[str, object]:
        return {"informative": self.informative, "reason": self.reason,
                "checks": [c.to_dict() for c in self.checks]}


@dataclass(frozen=True)
class HumanAgreement:
    """A calibration's judge-vs-human figure: ``statistic`` (cohen_kappa or spearman) of ``judges`` as a panel."""

    calibration_id: str
    judges: tuple[str, ...]
    statistic: str
    figure: Estimate


def judge_gates(records: Sequence[PairwiseRecord], human: HumanAgreement | None = None) -> dict[str, JudgeGate]:
    """The gate for every judge that has pairwise calls, keyed by judge name."""
    by_judge: dict[str, list[PairwiseRecord]] = defaultdict(list)
    for r in records:
        by_judge[r.judge].append(r)
    own = {j: _own_checks(j, rs) for j, rs in by_judge.items()}
    # The panel a judge is compared with holds only judges that pass their own checks: agreeing
    # (or not) with a judge that reads the layout says nothing about the answers.
    sound = {j for j, checks in own.items() if not any(c.passed is False for c in checks)}
    verdicts = {j: _item_verdicts(rs) for j, rs in by_judge.items()}
    return {j: JudgeGate(j, (*own[j], _panel_check(j, {k: v for k, v in verdicts.items() if k in sound or k == j}),
                             *_human_check(j, human)))
            for j in sorted(by_judge)}


def _human_check(judge: str, human: HumanAgreement | None) -> tuple[GateCheck, ...]:
    if human is None or judge not in human.judges:
        return ()
    f = human.figure
    est, low, high = finite_or_none(f.estimate), finite_or_none(f.ci_low), finite_or_none(f.ci_high)
    where = f"calibration '{human.calibration_id}'"
    if est is None or f.n < MIN_CALLS:
        return (GateCheck("human_agreement", est, None,
                          f"{where}: judge-vs-human {human.statistic} not usable on {f.n} items"
                          + (f" ({f.reason})" if f.reason else "") + f"; needs {MIN_CALLS}"),)
    shown = f"{human.statistic} {est:.2f}" + ("" if low is None or high is None else f" [{low:.2f}, {high:.2f}]")
    above = low is not None and low > 0
    return (GateCheck("human_agreement", est, above,
                      f"judge '{judge}' vs the humans of {where}: {shown} on {f.n} items"
                      + ("" if above else " (not shown to agree with the humans better than chance)")),)


def _own_checks(judge: str, records: Sequence[PairwiseRecord]) -> tuple[GateCheck, ...]:
    scored = [r for r in records if r.winner is not None]
    decided = [r for r in scored if r.winner != "tie"]
    first = sum(chosen_position(r.order, r.winner) == "first" for r in decided if r.winner is not None)
    if decided:
        share = first / len(decided)
        p = float(stats.binomtest(first, len(decided), 0.5).pvalue)
        lopsided = (share >= FIRST_POSITION_LIMIT or share <= 1 - FIRST_POSITION_LIMIT) and p < GATE_ALPHA
        slot = "first" if share >= 0.5 else "second"
        count = first if share >= 0.5 else len(decided) - first
        position = GateCheck("first_position_share", share, not lopsided,
                             f"judge '{judge}' chose the {slot} position in {count} of {len(decided)} decided calls"
                             + (f" (binomial p = {p:.2g}): it reads the layout, not the answers" if lopsided else ""))
    else:
        position = GateCheck("first_position_share", None, None, f"judge '{judge}' decided no call")
    if scored:
        decided_share = len(decided) / len(scored)
        few = len(scored) >= MIN_CALLS and decided_share < MIN_DECIDED_SHARE
        decided_check = GateCheck("decided_share", decided_share, False if few else (True if len(scored) >= MIN_CALLS
                                                                                    else None),
                                  f"judge '{judge}' decided {len(decided)} of {len(scored)} scored calls"
                                  + (" (nearly all ties)" if few else ""))
    else:
        decided_check = GateCheck("decided_share", None, None, f"judge '{judge}' scored no call")
    return position, decided_check, _consistency_check(judge, scored)


def _consistency_check(judge: str, scored: Sequence[PairwiseRecord]) -> GateCheck:
    winners: dict[tuple[str, int], dict[str, str]] = defaultdict(dict)
    for r in scored:
        if r.winner is not None:
            winners[(r.item_id, r.sample_index)][r.order] = r.winner
    pairs = [w for w in winners.values() if len(w) == 2]
    if not pairs:
        return GateCheck("position_consistency", None, None, f"judge '{judge}' has no item scored in both orders")
    same = sum(w["AB"] == w["BA"] for w in pairs)
    value = same / len(pairs)
    enough = len(pairs) >= MIN_CALLS
    low = enough and value < MIN_CONSISTENCY
    return GateCheck("position_consistency", value, False if low else (True if enough else None),
                     f"judge '{judge}' named the same winner in both orders on {same} of {len(pairs)} items"
                     + (" (its verdict follows the order)" if low else ""))


def _item_verdicts(records: Sequence[PairwiseRecord]) -> dict[str, float]:
    """item -> the judge's hard verdict after both orders: 1 candidate, 0 baseline, 0.5 tie."""
    values: dict[str, list[float]] = defaultdict(list)
    for r in records:
        if r.winner is not None:
            values[r.item_id].append(WINNER_VALUE[r.winner])
    out = {}
    for item, v in values.items():
        m = float(np.mean(v))
        out[item] = 1.0 if m > 0.5 + TIE_TOLERANCE else 0.0 if m < 0.5 - TIE_TOLERANCE else 0.5
    return out


def _panel_check(judge: str, verdicts: dict[str, dict[str, float]]) -> GateCheck:
    others = [v for j, v in verdicts.items() if j != judge]
    if not others:
        return GateCheck("panel_agreement", None, None, "one judge: no panel to agree with")
    mine, rest = [], []
    for item, value in verdicts[judge].items():
        votes = [o[item] for o in others if item in o]
        levels, counts = np.unique(votes, return_counts=True) if votes else (np.array([]), np.array([]))
        if counts.size and (counts == counts.max()).sum() == 1:
            mine.append(value)
            rest.append(float(levels[counts.argmax()]))
    if len(mine) < MIN_CALLS:
        return GateCheck("panel_agreement", None, None,
                         f"judge '{judge}' shares {len(mine)} items with a panel majority; needs {MIN_CALLS}")
    codes = {0.0: "baseline", 0.5: "tie", 1.0: "candidate"}
    a, b = [codes[v] for v in mine], [codes[v] for v in rest]
    if len(set(a)) < 2 or len(set(b)) < 2:
        return GateCheck("panel_agreement", None, None,
                         f"judge '{judge}' vs the panel majority: one side gives the same verdict on every item, "
                         "so kappa says nothing")
    kappa = float(cohen_kappa_score(a, b, labels=["baseline", "tie", "candidate"]))
    bad = kappa <= 0
    return GateCheck("panel_agreement", kappa, not bad,
                     f"judge '{judge}' vs the panel majority: Cohen's kappa {kappa:.2f} on {len(mine)} items"
                     + (" (no better than chance)" if bad else ""))
