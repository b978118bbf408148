"""stats.inference against scipy and hand-computed values."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from judge_service.errors import InvalidInput
from judge_service.stats.inference import (
    Estimate,
    bootstrap_mean,
    clustered_bootstrap_mean,
    clustered_paired_difference,
    minimum_detectable_difference,
    paired_difference,
    required_sample_size,
    rng_from_seed,
    sign_test,
    win_rate,
)


def test_rng_from_seed_is_deterministic_and_string_keyed():
    a = rng_from_seed("run-1/item-7").random(5)
    b = rng_from_seed("run-1/item-7").random(5)
    c = rng_from_seed("run-1/item-8").random(5)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_win_rate_counts_ties_half():
    # 2 wins, 1 tie, 1 loss -> (2 + 0.5) / 4
    assert win_rate([1, 1, 0.5, 0]) == pytest.approx(0.625)
    with pytest.raises(InvalidInput):
        win_rate([1.5])
    with pytest.raises(InvalidInput):
        win_rate([])


def test_sign_test_matches_binomtest_and_hand_value():
    # Hand: 2 * sum_{k=14}^{20} C(20, k) / 2^20 = 2 * 60460 / 1048576
    assert sign_test(14, 6) == pytest.approx(2 * 60460 / 2**20, rel=1e-12)
    assert sign_test(14, 6) == pytest.approx(stats.binomtest(14, 20, 0.5).pvalue)
    assert sign_test(0, 0) == 1.0


def test_bootstrap_mean_is_scipy_bca_on_the_same_draws():
    x = rng_from_seed("data").normal(0.3, 1.0, 80)
    ours = bootstrap_mean(x, n_resamples=2000, seed="s")
    ref = stats.bootstrap((x,), np.mean, method="BCa", n_resamples=2000, batch=250, rng=rng_from_seed("s"))
    assert ours.estimate == pytest.approx(x.mean())
    assert ours.ci_low == pytest.approx(ref.confidence_interval.low)
    assert ours.ci_high == pytest.approx(ref.confidence_interval.high)
    assert ours.n == 80


def test_bootstrap_ci_shrinks_with_n():
    rng = rng_from_seed("shrink")
    small = bootstrap_mean(rng.random(100), seed="a")
    large = bootstrap_mean(rng.random(1600), seed="a")
    width_small, width_large = small.ci_high - small.ci_low, large.ci_high - large.ci_low
    # SE scales as 1/sqrt(n): 16x the items -> about a quarter of the width.
    assert width_large == pytest.approx(width_small / 4, rel=0.25)


def test_degenerate_sample_gives_a_point_interval_not_nan():
    est = bootstrap_mean([0.5] * 30, seed="d")
    assert (est.estimate, est.ci_low, est.ci_high) == (0.5, 0.5, 0.5)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from([0.0, 0.5, 1.0]), min_size=5, max_size=60))
def test_bootstrap_ci_contains_the_estimate(outcomes):
    est = bootstrap_mean(outcomes, n_resamples=300, seed="prop")
    assert est.ci_low - 1e-12 <= est.estimate <= est.ci_high + 1e-12


def test_paired_difference_matches_wilcoxon_and_mean():
    rng = rng_from_seed("paired")
    base = rng.normal(5, 1, 40)
    cand = base + rng.normal(0.4, 0.8, 40)
    result = paired_difference(cand, base, seed="p")
    assert result.difference.estimate == pytest.approx(np.mean(cand - base))
    assert result.difference.p_value == pytest.approx(stats.wilcoxon(cand - base).pvalue)
    assert result.difference.ci_low < result.difference.estimate < result.difference.ci_high


def test_wilcoxon_hand_value_all_positive():
    # Exact null distribution of W+ over 2^5 sign patterns: P(W+ = 15) = 1/32, two-sided 2/32.
    result = paired_difference([1.0, 2.0, 3.0, 4.0, 5.0], [0.0] * 5, n_resamples=200, seed="h")
    assert result.difference.p_value == pytest.approx(2 / 32)


def test_all_zero_differences_give_a_clear_result():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = paired_difference([3.0, 4.0, 5.0], [3.0, 4.0, 5.0], n_resamples=200, seed="z")
    assert result.difference.estimate == 0.0
    assert result.difference.p_value == 1.0
    assert result.n_zero == 3
    assert "identically" in result.note


def test_mde_formula_by_hand():
    z = 1.959963984540054 + 0.8416212335729143  # z_{0.975} + z_{0.8}
    assert minimum_detectable_difference(0.5, 100) == pytest.approx(z * 0.5 / 10)
    assert required_sample_size(1.0, 0.5) == math.ceil((z * 1.0 / 0.5) ** 2) == 32


@settings(max_examples=50, deadline=None)
@given(st.floats(0.05, 2.0), st.floats(0.01, 1.0))
def test_required_n_is_the_smallest_n_reaching_the_target(sd, difference):
    n = required_sample_size(sd, difference)
    assert minimum_detectable_difference(sd, n) <= difference * (1 + 1e-9)
    if n > 1:
        assert minimum_detectable_difference(sd, n - 1) > difference


def test_clustered_point_is_mean_of_item_means():
    groups = [[1.0, 0.0], [1.0], [0.5, 0.5, 1.0]]
    est = clustered_bootstrap_mean(groups, n_resamples=500, seed="c")
    assert est.estimate == pytest.approx((0.5 + 1.0 + 2 / 3) / 3)
    assert est.n == 3
    assert est.ci_low <= est.estimate <= est.ci_high


def test_clustered_ci_is_not_narrower_than_item_level_and_covers():
    """Items with true value mu_i ~ N(0.6, 0.1), four noisy replicates each (sd 0.3)."""
    covered, ratios = 0, []
    for rep in range(60):
        rng = rng_from_seed(f"cluster/{rep}")
        mu = rng.normal(0.6, 0.1, 40)
        groups = [m + rng.normal(0, 0.3, 4) for m in mu]
        two_level = clustered_bootstrap_mean(groups, n_resamples=400, seed=f"c{rep}")
        one_level = bootstrap_mean([g.mean() for g in groups], n_resamples=400, seed=f"o{rep}")
        ratios.append((two_level.ci_high - two_level.ci_low) / (one_level.ci_high - one_level.ci_low))
        covered += two_level.ci_low <= 0.6 <= two_level.ci_high
    assert np.median(ratios) >= 1.0  # replicate noise counted at least once, never dropped
    assert covered / 60 >= 0.88


def test_clustered_paired_difference_uses_items_for_wilcoxon():
    groups = [[0.5, 1.5], [2.0, 2.0], [1.0, 0.0], [3.0], [0.2, 0.4]]
    result = clustered_paired_difference(groups, n_resamples=300, seed="cp")
    item_means = [np.mean(g) for g in groups]
    assert result.difference.p_value == pytest.approx(stats.wilcoxon(item_means).pvalue)
    assert result.difference.estimate == pytest.approx(np.mean(item_means))


def test_inputs_are_checked_with_actionable_errors():
    with pytest.raises(InvalidInput, match="between 0 and 1"):
        bootstrap_mean([1.0, 2.0], confidence=1.5, seed="x")
    with pytest.raises(InvalidInput, match="at least 100"):
        bootstrap_mean([1.0, 2.0], n_resamples=10, seed="x")
    with pytest.raises(InvalidInput, match="NaN"):
        bootstrap_mean([1.0, float("nan")], seed="x")
    with pytest.raises(InvalidInput, match="equal lengths"):
        paired_difference([1.0], [1.0, 2.0], seed="x")
    with pytest.raises(InvalidInput, match="positive"):
        required_sample_size(1.0, 0.0)


def test_estimate_to_dict_is_json_ready():
    d = Estimate(0.5, -math.inf, math.inf, 1, p_value=0.2).to_dict()
    assert d == {"estimate": 0.5, "ci_low": None, "ci_high": None, "n": 1, "p_value": 0.2}
