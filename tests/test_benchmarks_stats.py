"""Every benchmark statistic against statsmodels, scipy or a hand computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests

from judge_service.benchmarks import decisions, paired, unpaired


def _pairs(b: int, c: int, both: int, neither: int) -> tuple[list[float], list[float]]:
    base = [1.0] * b + [0.0] * c + [1.0] * both + [0.0] * neither
    tuned = [0.0] * b + [1.0] * c + [1.0] * both + [0.0] * neither
    return base, tuned


@pytest.mark.parametrize("b,c,both,neither", [(9, 0, 11, 0), (3, 12, 50, 35), (7, 7, 10, 10), (0, 0, 5, 5), (1, 30, 0, 2)])
def test_mcnemar_exact_matches_statsmodels_and_counts(b, c, both, neither):
    base, tuned = _pairs(b, c, both, neither)
    res = paired.mcnemar_exact(base, tuned)
    assert (res.base_only, res.tuned_only, res.both, res.neither) == (b, c, both, neither)
    expected = mcnemar([[both, b], [c, neither]], exact=True).pvalue
    assert res.difference.p_value == pytest.approx(expected, rel=1e-12)
    n = b + c + both + neither
    assert res.difference.estimate == pytest.approx((c - b) / n)
    # Agresti–Min by hand: ½ added to each cell, Wald interval on the adjusted table.
    bb, cc, nn = b + 0.5, c + 0.5, n + 2
    d = (cc - bb) / nn
    se = math.sqrt(((bb + cc) / nn - d * d) / nn)
    assert res.difference.ci_low == pytest.approx(max(-1, d - 1.959963984540054 * se))
    assert res.difference.ci_high == pytest.approx(min(1, d + 1.959963984540054 * se))


def test_paired_bootstrap_agrees_with_scipy_bootstrap_and_wilcoxon():
    rng = np.random.default_rng(1)
    base = rng.uniform(0, 1, 400)
    tuned = np.clip(base + rng.normal(0.03, 0.1, 400), 0, 1)
    res = paired.paired_bootstrap(base, tuned, seed="t", n_resamples=4000)
    ref = stats.bootstrap((tuned - base,), np.mean, n_resamples=4000, method="percentile", random_state=2)
    assert res.difference.estimate == pytest.approx(float(np.mean(tuned - base)))
    assert res.difference.ci_low == pytest.approx(ref.confidence_interval.low, abs=0.003)
    assert res.difference.ci_high == pytest.approx(ref.confidence_interval.high, abs=0.003)
    assert res.se == pytest.approx(np.std(tuned - base, ddof=1) / math.sqrt(400), rel=0.08)
    assert res.wilcoxon_p == pytest.approx(stats.wilcoxon(tuned - base).pvalue)
    assert res.difference.p_value < 0.01  # a real +0.03 shift on 400 docs


def test_stratified_bootstrap_weights_strata_by_size_like_lm_eval():
    rng = np.random.default_rng(3)
    strata, weights, analytic_var, point = [], [], 0.0, 0.0
    sizes = [50, 200, 120]
    for k, n in enumerate(sizes):
        b = rng.integers(0, 2, n).astype(float)
        t = np.where(rng.uniform(size=n) < 0.1, 1 - b, b)
        strata.append((b, t))
        weights.append(n)
    total = sum(sizes)
    for (b, t), n in zip(strata, sizes):
        d = t - b
        point += n / total * d.mean()
        analytic_var += (n / total) ** 2 * d.var(ddof=0) / n
    res = paired.stratified_bootstrap(strata, weights, seed="s", n_resamples=5000)
    # size-weighted mean of subtask means = the pooled mean over all docs (aggregate_subtask_metrics)
    assert res.difference.estimate == pytest.approx(point)
    assert res.difference.estimate == pytest.approx(np.concatenate([t - b for b, t in strata]).mean())
    assert res.se == pytest.approx(math.sqrt(analytic_var), rel=0.06)


def test_unpaired_z_by_hand_and_the_correlation_that_would_make_it_significant():
    res = unpaired.z_test(0.63, 0.004, 0.58, 0.0041, n=14042)
    se = math.sqrt(0.004 ** 2 + 0.0041 ** 2)
    assert res.se == pytest.approx(se)
    assert res.z == pytest.approx(-0.05 / se)
    assert res.difference.p_value == pytest.approx(2 * stats.norm.sf(0.05 / se))
    assert res.correlation_needed is not None and res.correlation_needed < 0  # already significant
    small = unpaired.z_test(0.50, 0.02, 0.53, 0.02, n=600)
    assert small.difference.p_value > 0.05
    rho = small.correlation_needed
    assert rho is not None and 0 < rho < 1
    se_rho = math.sqrt(0.02 ** 2 + 0.02 ** 2 - 2 * rho * 0.02 * 0.02)
    assert 0.03 / se_rho == pytest.approx(stats.norm.ppf(0.975))  # exactly at the edge


def test_exact_two_proportions_rebuilds_counts_and_matches_a_hand_hypergeometric():
    n = 164  # HumanEval
    out = unpaired.exact_two_proportions(50 / n, 62 / n, n, n)
    assert out is not None
    kb, kt, p = out
    assert (kb, kt) == (50, 62)
    # Fisher by hand: sum of hypergeometric probabilities no larger than the observed table's.
    total, succ = 2 * n, kb + kt
    probs = [math.comb(succ, x) * math.comb(total - succ, n - x) / math.comb(total, n) for x in range(succ + 1)]
    observed = probs[kt]
    assert p == pytest.approx(sum(q for q in probs if q <= observed * (1 + 1e-7)), rel=1e-9)
    assert unpaired.exact_two_proportions(0.3333, 0.5, 164, 164) is None  # not a count / n


def test_holm_and_bh_match_statsmodels():
    p = [0.001, 0.04, 0.03, 0.2, 0.0005, 0.049, 0.8]
    assert decisions.holm(p) == pytest.approx(list(multipletests(p, method="holm")[1]))
    assert decisions.benjamini_hochberg(p) == pytest.approx(list(multipletests(p, method="fdr_bh")[1]))


def test_tost_is_the_larger_one_sided_p_and_agrees_with_the_90_percent_ci():
    delta, se, margin = 0.002, 0.004, 0.01
    p = decisions.tost(delta, se, margin)
    assert p == pytest.approx(max(stats.norm.sf((delta + margin) / se), stats.norm.cdf((delta - margin) / se)))
    z90 = stats.norm.ppf(0.95)
    inside = -margin < delta - z90 * se and delta + z90 * se < margin
    assert (p < 0.05) == inside
    assert decisions.tost(0.0, 0.02, 0.01) > 0.05  # too noisy to claim equivalence


def test_minimum_detectable_difference_has_the_stated_power_by_simulation():
    se = 0.01
    mdd = decisions.minimum_detectable_difference(se)
    assert mdd == pytest.approx((stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) * se)
    rng = np.random.default_rng(0)
    z = rng.normal(mdd, se, 20000) / se
    assert np.mean(np.abs(z) > stats.norm.ppf(0.975)) == pytest.approx(0.8, abs=0.01)


def test_orientation_flips_lower_is_better_metrics():
    assert decisions.improvement(-0.1, higher_is_better=False) == pytest.approx(0.1)
    assert decisions.improvement(-0.1, higher_is_better=True) == pytest.approx(-0.1)


def test_mcnemar_false_positive_rate_under_the_null_is_at_most_alpha():
    rng = np.random.default_rng(7)
    rejections = 0
    for _ in range(2000):
        base = rng.integers(0, 2, 200).astype(float)
        flip = rng.uniform(size=200) < 0.15
        tuned = np.where(flip, rng.integers(0, 2, 200), base).astype(float)  # same accuracy in expectation
        rejections += paired.mcnemar_exact(base, tuned).difference.p_value < 0.05
    assert rejections / 2000 <= 0.06
