"""The decision rule's error rates, measured by simulation over fixed seeds (issue 14 §1).

Scripted judges produce the stored records a run would hold; ``build_report`` decides. Four
judges, each with a known truth:
  1. pure position bias: always picks the answer shown first, with a small asymmetry in its
     label probabilities (P(first) 0.90 when the baseline is first, 0.93 when the candidate is),
     so the soft preferences sit at ~0.515 with a tiny variance: must be ``undetermined``;
  2. a judge answering at random on equal systems: a winner in at most alpha = 5% of seeds;
  3. equal quality, candidate longer on ~85% of items, a verbosity-biased judge: a winner in at
     most 5% of seeds (the controlled figure and the hard votes must both agree);
  4. a good judge and a true effect of the minimum detectable difference the power section
     reports (alpha 0.05, power 0.8): detected in about 80% of seeds.
The rates are printed (``pytest -s``) and quoted in README ("The decision rule").
"""

from __future__ import annotations

import numpy as np

from judge_service.runs.report import ItemInfo, PairwiseRecord, ReportOptions, build_report
from judge_service.stats.inference import minimum_detectable_difference

N_ITEMS = 100
OPTIONS = dict(n_resamples=200)


def _items(rng, n, longer_candidate=False):
    base = rng.integers(300, 1200, n)
    if longer_candidate:
        cand = (base * np.exp(rng.normal(0.5, 0.45, n))).astype(int) + 1
    else:
        cand = base
    return [ItemInfo(f"i{k}", "c" * int(cand[k]), "b" * int(base[k]), {}, {}) for k in range(n)], cand - base


def position_judge(seed):
    rng = np.random.default_rng(seed)
    items, _ = _items(rng, N_ITEMS)
    records = []
    for it in items:
        for order in ("AB", "BA"):
            p_first = (0.93 if order == "BA" else 0.90) + rng.normal(0, 0.005)
            first = "baseline" if order == "AB" else "candidate"
            prob_candidate = p_first if first == "candidate" else 1 - p_first
            records.append(PairwiseRecord(it.item_id, "pos", order, 0, first, float(prob_candidate)))
    return records, items


def random_judge(seed):
    rng = np.random.default_rng(seed)
    items, _ = _items(rng, N_ITEMS)
    winners = ("candidate", "baseline", "tie")
    records = [PairwiseRecord(it.item_id, "rand", o, 0, winners[rng.integers(0, 3)], None)
               for it in items for o in ("AB", "BA")]
    return records, items


def verbosity_judge(seed):
    rng = np.random.default_rng(seed)
    items, gap = _items(rng, N_ITEMS, longer_candidate=True)
    records = []
    for it, d in zip(items, gap):
        truth = "candidate" if rng.random() < 0.5 else "baseline"  # equal quality
        for order in ("AB", "BA"):
            if rng.random() < 0.6 * abs(np.tanh(d / 400)):
                winner = "candidate" if d > 0 else "baseline"
            else:
                winner = truth
            records.append(PairwiseRecord(it.item_id, "verbose", order, 0, winner, None))
    return records, items


def good_judge(seed, win_rate):
    rng = np.random.default_rng(seed)
    items, _ = _items(rng, N_ITEMS)
    records = []
    for it in items:
        truth = "candidate" if rng.random() < win_rate else "baseline"
        records += [PairwiseRecord(it.item_id, "good", o, 0, truth, None) for o in ("AB", "BA")]
    return records, items


def _outcome(records, items, seed):
    return build_report(records, [], items, ReportOptions(seed=f"sim-{seed}", **OPTIONS)).decision.outcome


WINNER = {"candidate_beats", "baseline_beats"}


def test_the_four_error_rates():
    seeds = range(100)
    undetermined = sum(_outcome(*position_judge(s), s) == "undetermined" for s in seeds) / len(seeds)
    random_wins = sum(_outcome(*random_judge(s), s) in WINNER for s in seeds) / len(seeds)
    verbose_wins = sum(_outcome(*verbosity_judge(s), s) in WINNER for s in seeds) / len(seeds)
    # The effect the power section calls detectable: a judge that is right on every item has item
    # preferences in {0, 1}, sd ~0.5 near 0.5, so the MDE at n is minimum_detectable_difference(0.5, n).
    mde = minimum_detectable_difference(0.5, N_ITEMS)
    detected = sum(_outcome(*good_judge(s, 0.5 + mde), s) == "candidate_beats" for s in seeds) / len(seeds)
    print(f"\nposition judge undetermined {undetermined:.2f}; random judge winner {random_wins:.2f}; "
          f"verbosity judge winner {verbose_wins:.2f}; detected at the MDE ({mde:.3f}) {detected:.2f}")
    assert undetermined >= 0.99
    assert random_wins <= 0.05
    assert verbose_wins <= 0.05
    # 100 seeds: the binomial SE at 0.8 is 0.04; the sign test on hard votes costs a little power.
    assert 0.65 <= detected <= 0.92


def test_the_power_sections_mde_is_the_one_simulated():
    records, items = good_judge(0, 0.6)
    report = build_report(records, [], items, ReportOptions(**OPTIONS))
    power = report.power[0]
    assert abs(power.sd - 0.5) < 0.03
    assert abs(power.minimum_detectable_difference - minimum_detectable_difference(0.5, N_ITEMS)) < 0.01


def test_the_embedded_judge_pattern_is_undetermined_with_reason_and_fix():
    """The issue's run: 10 items, the judge chose the first slot in 18 of 18 decided calls
    (2 ties), soft probabilities slightly asymmetric, candidate longer everywhere."""
    items = [ItemInfo(f"q{k}", "a longer tuned answer " * 3, "base", {}, {}) for k in range(10)]
    records = []
    for k, it in enumerate(items):
        for order in ("AB", "BA"):
            tie = k == 0
            first = "baseline" if order == "AB" else "candidate"
            p_first = 0.56 if order == "BA" else 0.50
            prob = 0.5 if tie else (p_first if first == "candidate" else 1 - p_first)
            records.append(PairwiseRecord(it.item_id, "local", order, 0, "tie" if tie else first, prob))
    report = build_report(records, [], items, ReportOptions(n_resamples=300))
    assert report.verdict.startswith("undetermined at n = 10: judge 'local' chose the first position in 18 of 18 "
                                     "decided calls")
    assert "configure a stronger judge" in report.verdict
    assert report.decision.outcome == "undetermined"
    gate = next(c for c in report.decision.checks if c.name == "informative_judge")
    assert gate.passed is False
    assert report.judges[0].gate is not None and report.judges[0].gate.informative is False
    assert report.to_dict()["decision"]["rule"].startswith("A winner is declared only when")


def test_soft_probabilities_alone_cannot_carry_a_win():
    """An informative judge whose hard votes are split but whose probabilities lean: undetermined."""
    items = [ItemInfo(f"q{k}", "x", "y", {}, {}) for k in range(40)]
    records = []
    for k, it in enumerate(items):
        winner = "candidate" if k % 2 else "baseline"
        prob = 0.56 if winner == "candidate" else 0.48
        records += [PairwiseRecord(it.item_id, "j", o, 0, winner, prob) for o in ("AB", "BA")]
    report = build_report(records, [], items, ReportOptions(n_resamples=300))
    assert report.headline.ci_low > 0.5  # the soft figure alone would say "beats"
    assert report.verdict.startswith("undetermined at n = 40")
    assert "hard votes do not" in report.verdict
    hard = next(c for c in report.decision.checks if c.name == "hard_votes")
    assert hard.passed is False and "20 won, 20 lost" in hard.detail
