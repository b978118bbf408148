"""Acceptance: a simulated run with known truth, through ``build_report`` (no server).

The simulated judge, for one call with the two answers in some order:
  1. with probability x it picks whatever is shown first (position bias, content ignored);
  2. otherwise, with probability v·|tanh(Δ/s)| it picks the longer answer (verbosity bias:
     the larger the gap Δ = len(candidate) − len(baseline), the likelier), s = 400 chars;
  3. otherwise it picks the truly better answer; the candidate is truly better on an item
     with probability p (drawn once per item, shared by both orders).
The candidate usually, not always, writes longer: Δ > 0 on about seven items in eight
(log length ratio ~ N(0.5, 0.45²)).

Target — the win rate this judge gives at equal length with positions balanced. At Δ = 0
branch 2 has probability v·tanh(0) = 0, so a call picks the candidate with probability
    x·P(candidate shown first) + (1 − x)·p.
With both orders run, the candidate is first in exactly half the calls, so
    target = x/2 + (1 − x)·p          (x = 0.25, p = 0.6  →  0.575)
— the pure position-bias formula, because verbosity vanishes at equal length.

What a naive analysis reports instead:
  - one order only, candidate first ("BA"): x + (1 − x)·q̄, where q̄ > p is the content-branch
    rate inflated by verbosity — off by x/2 plus the length effect;
  - both orders pooled (raw): x/2 + (1 − x)·q̄, q̄ = p + v·E[|tanh(Δ/s)|·(1{Δ>0} − p)] > p
    because Δ > 0 mostly — off by the length effect (≈ 0.10 here).
The LC GLM (logit-linear in tanh(Δ/sd)) is only an approximation of this judge (its curve is
piecewise linear in tanh(Δ/s) with a kink at 0), so coverage is measured, not assumed.
"""

from __future__ import annotations

import numpy as np

from judge_service.runs.report import ItemInfo, PairwiseRecord, ReportOptions, build_report

N_ITEMS = 300
P_TRUE = 0.6  # P(candidate truly better)
X_POSITION = 0.25  # share of calls that just pick the first slot
V_VERBOSITY = 0.6  # max probability of picking the longer answer
SCALE_CHARS = 400.0
TARGET = X_POSITION / 2 + (1 - X_POSITION) * P_TRUE
SEEDS = range(24)


def simulate_run(seed: int) -> tuple[list[PairwiseRecord], list[ItemInfo]]:
    rng = np.random.default_rng(seed)
    base_len = rng.lognormal(np.log(800), 0.4, N_ITEMS).astype(int) + 1
    cand_len = (base_len * np.exp(rng.normal(0.5, 0.45, N_ITEMS))).astype(int) + 1
    records, items = [], []
    for k in range(N_ITEMS):
        gap = int(cand_len[k] - base_len[k])
        items.append(ItemInfo(f"item-{k}", "c" * int(cand_len[k]), "b" * int(base_len[k]), {}, {}))
        truth = "candidate" if rng.random() < P_TRUE else "baseline"
        for order in ("AB", "BA"):
            first = "baseline" if order == "AB" else "candidate"
            if rng.random() < X_POSITION:
                winner = first
            elif rng.random() < V_VERBOSITY * abs(np.tanh(gap / SCALE_CHARS)):
                winner = "candidate" if gap > 0 else "baseline"
            else:
                winner = truth
            records.append(PairwiseRecord(f"item-{k}", "sim-judge", order, 0, winner, None))
    return records, items


def covers(estimate, value: float) -> bool:
    return estimate.ci_low <= value <= estimate.ci_high


def test_lc_win_rate_recovers_the_equal_length_target():
    lc_covered = raw_missed = single_missed = 0
    raw_estimates, lc_estimates = [], []
    for seed in SEEDS:
        records, items = simulate_run(seed)
        # 1000 resamples (default 2000) keeps 24 full reports fast; coverage is insensitive to it.
        report = build_report(records, [], items, ReportOptions(seed=f"sim-{seed}", n_resamples=1000))
        single = report.pairwise.win_rate_by_order["BA"]
        raw = report.pairwise.win_rate
        lc = report.pairwise.length_controlled.controlled
        # "misses by more than its CI": the target lies outside the interval.
        single_missed += not covers(single, TARGET)
        raw_missed += not covers(raw, TARGET)
        lc_covered += covers(lc, TARGET)
        raw_estimates.append(raw.estimate)
        lc_estimates.append(lc.estimate)
    n = len(SEEDS)
    print(f"\ntarget {TARGET:.3f}; mean raw {np.mean(raw_estimates):.3f}, mean LC {np.mean(lc_estimates):.3f}; "
          f"over {n} seeds: LC 95% CI coverage {lc_covered / n:.2f}, "
          f"raw CI misses {raw_missed / n:.2f}, single-order CI misses {single_missed / n:.2f}")
    assert single_missed == n
    assert raw_missed / n >= 0.8
    assert lc_covered / n >= 0.85


def test_one_run_in_detail():
    records, items = simulate_run(seed=1000)
    report = build_report(records, [], items, ReportOptions(seed="detail"))
    pair = report.pairwise
    single, raw, lc = pair.win_rate_by_order["BA"], pair.win_rate, pair.length_controlled.controlled
    assert abs(single.estimate - TARGET) > (single.ci_high - single.ci_low) / 2
    assert raw.ci_low > TARGET  # length inflates the pooled win rate
    assert covers(lc, TARGET)
    assert any("length-controlled win rate" in w for w in report.warnings)
    # The judge's position bias shows up: consistency well below 1, first-slot share above 0.5.
    assert pair.position.position_consistency.ci_high < 0.8
    assert pair.position.first_position_share.ci_low > 0.5
