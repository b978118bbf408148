"""bias.length: the fractional logit, the LC win rate, style features, absolute length slope."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special, stats
from sklearn.linear_model import LogisticRegression

from judge_service.bias.length import (
    controlled_win_rate_from_features,
    fit_fractional_logit,
    fit_fractional_logit_batched,
    length_adjusted_difference,
    length_controlled_win_rate,
    length_feature,
    style_counts,
    style_features,
)
from judge_service.errors import InvalidInput
from judge_service.stats.inference import rng_from_seed


def test_style_counts_by_hand():
    text = "# Title\n\n## Part\n- one\n* two\n1. three\n2) four\nSome **bold** and __also__ text.\n**x**"
    counts = style_counts(text)
    assert (counts.headers, counts.list_items, counts.bold) == (2, 4, 3)


def test_style_features_are_normalised_differences():
    # candidate: 2 headers, 0 lists, 1 bold; baseline: 0, 3, 1
    feats = style_features(["# a\n# b\n**c**"], ["- x\n- y\n- z\n**w**"])
    assert feats.tolist() == [[(2 - 0) / 3, (0 - 3) / 4, 0.0]]


def test_length_feature_by_hand_and_equal_lengths():
    d = np.array([100.0, -100.0, 300.0, 0.0])
    feature, sd = length_feature(d)
    assert sd == pytest.approx(np.std(d, ddof=1))
    assert feature == pytest.approx(np.tanh(d / sd))
    feature, sd = length_feature([50.0, 50.0, 50.0])
    assert sd == 0.0 and not feature.any()


def test_fractional_logit_matches_sklearn_weighted_logistic_regression():
    """A soft target y is the same likelihood as a y=1 row with weight y plus a y=0 row with
    weight 1-y; sklearn's unpenalised LogisticRegression on that expansion is the reference."""
    rng = rng_from_seed("sk")
    X = rng.normal(size=(200, 2))
    y = special.expit(0.3 + X @ np.array([0.8, -0.5])) * rng.uniform(0.7, 1.0, 200)
    ours = fit_fractional_logit(X, y, l2=0.0)
    ref = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(
        np.vstack([X, X]), np.r_[np.ones(200), np.zeros(200)], sample_weight=np.r_[y, 1 - y]
    )
    assert ours == pytest.approx(np.r_[ref.intercept_, ref.coef_[0]], abs=1e-5)


def test_batched_newton_agrees_with_scipy_fit():
    rng = rng_from_seed("batch")
    X = rng.uniform(-1, 1, size=(3, 150, 2))
    y = rng.uniform(0, 1, size=(3, 150))
    design = np.concatenate([np.ones((3, 150, 1)), X], axis=2)
    batched = fit_fractional_logit_batched(design, y)
    for b in range(3):
        assert batched[b] == pytest.approx(fit_fractional_logit(X[b], y[b]), abs=1e-6)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000))
def test_swapping_the_systems_mirrors_the_fit(seed):
    """Invariant: relabel candidate<->baseline (y -> 1-y, every difference -> -difference):
    logit(1-mu) = -theta - phi.x = -theta + phi.(-x), so the candidate term flips sign and the
    slopes stay; the LC win rate becomes 1 - LC."""
    rng = rng_from_seed(f"mirror/{seed}")
    X = rng.uniform(-1, 1, size=(40, 2))
    y = rng.uniform(0, 1, 40)
    beta, mirrored = fit_fractional_logit(X, y), fit_fractional_logit(-X, 1 - y)
    assert mirrored == pytest.approx(np.r_[-beta[0], beta[1:]], abs=1e-5)
    assert special.expit(mirrored[0]) == pytest.approx(1 - special.expit(beta[0]), abs=1e-6)


def test_lc_equals_raw_when_lengths_are_equal():
    rng = rng_from_seed("equal")
    prefs = rng.choice([0.0, 0.5, 1.0], size=120, p=[0.3, 0.2, 0.5])
    texts = ["x" * 500] * 120
    result = length_controlled_win_rate(prefs, texts, texts, n_resamples=500, seed="eq")
    assert result.controlled.estimate == pytest.approx(prefs.mean(), abs=1e-7)
    assert result.coefficients["length"] == 0.0
    assert result.controlled.ci_low == pytest.approx(result.raw.ci_low, abs=0.02)
    assert result.warnings == []


def test_lc_recovers_the_candidate_term_of_a_logistic_judge():
    """Preference ~ Bernoulli(sigmoid(theta + phi*tanh(d/sd))), candidate mostly longer."""
    rng = rng_from_seed("recover")
    n, theta, phi = 600, 0.4, 1.5
    base = rng.integers(300, 1500, n)
    cand = base + rng.normal(400, 400, n).astype(int)
    cand = np.maximum(cand, 1)
    feature, _ = length_feature(cand - base)
    prefs = (rng.random(n) < special.expit(theta + phi * feature)).astype(float)
    result = length_controlled_win_rate(
        prefs, ["c" * k for k in cand], ["b" * k for k in base], n_resamples=1000, seed="r"
    )
    target = special.expit(theta)
    assert result.controlled.ci_low <= target <= result.controlled.ci_high
    assert result.raw.ci_low > target  # the raw rate is inflated by length
    assert result.coefficients["length"] == pytest.approx(phi, abs=0.6)
    assert any("length-controlled win rate" in w for w in result.warnings)


def test_style_control_removes_a_markdown_preference():
    """The judge likes bold text; lengths are equal. Style control should strip that."""
    rng = rng_from_seed("style")
    n = 400
    cand_bold = rng.integers(0, 4, n)
    cand = ["**b** " * k + "y" * (200 - 6 * k) for k in cand_bold]
    base = ["y" * 200] * n
    bold_feature = style_features(cand, base)[:, 2]
    prefs = (rng.random(n) < special.expit(0.0 + 2.0 * bold_feature)).astype(float)
    plain = length_controlled_win_rate(prefs, cand, base, n_resamples=500, seed="s")
    styled = length_controlled_win_rate(prefs, cand, base, style_control=True, n_resamples=500, seed="s")
    assert plain.controlled.ci_low > 0.5  # length control alone cannot see the bold bias
    assert styled.controlled.ci_low <= 0.5 <= styled.controlled.ci_high
    assert set(styled.coefficients) == {"candidate", "length", "headers", "list_items", "bold"}


def test_length_fn_is_pluggable():
    words = ["one two three four"] * 10 + ["one"] * 10
    chars = ["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"] * 20
    prefs = np.r_[np.ones(10), np.zeros(10)]
    # By characters the candidate is always longer; by words it varies with the preference.
    by_words = length_controlled_win_rate(prefs, words, ["one two"] * 20,
                                          length_fn=lambda t: len(t.split()), n_resamples=200, seed="w")
    by_chars = length_controlled_win_rate(prefs, chars, ["x"] * 20, n_resamples=200, seed="w")
    assert by_chars.coefficients["length"] == 0.0  # constant difference: no length signal
    assert by_words.coefficients["length"] > 1.0


def test_absolute_length_slope_matches_linregress():
    rng = rng_from_seed("abs")
    n = 150
    base = rng.integers(200, 800, n)
    cand = base + rng.integers(-200, 600, n)
    diffs = 0.2 + 0.5 * (cand - base) / 100 + rng.normal(0, 0.5, n)
    result = length_adjusted_difference(diffs, ["c" * k for k in cand], ["b" * k for k in base],
                                        n_resamples=500, seed="a")
    ref = stats.linregress((cand - base) / 100, diffs)
    assert result.slope_per_100.estimate == pytest.approx(ref.slope)
    assert result.adjusted.estimate == pytest.approx(ref.intercept)
    assert result.raw.estimate == pytest.approx(diffs.mean())
    assert result.adjusted.ci_low <= 0.2 <= result.adjusted.ci_high
    assert result.slope_per_100.ci_low > 0
    assert result.warnings  # the slope is clearly non-zero


def test_absolute_without_length_variation_is_not_adjusted():
    result = length_adjusted_difference([0.1, 0.3, 0.2], ["aa"] * 3, ["a"] * 3, n_resamples=200, seed="n")
    assert result.slope_per_100 is None
    assert result.adjusted == result.raw


def test_bad_inputs_say_what_to_do():
    with pytest.raises(InvalidInput, match="one candidate and one baseline"):
        length_controlled_win_rate([0.5, 0.5], ["a"], ["b", "c"], seed="x")
    with pytest.raises(InvalidInput, match=r"\[0, 1\]"):
        controlled_win_rate_from_features(np.array([1.5, 0.2]), np.zeros((2, 1)), ["length"], seed="x")
    with pytest.raises(InvalidInput, match="unscored"):
        controlled_win_rate_from_features(np.array([np.nan, 0.2]), np.zeros((2, 1)), ["length"], seed="x")


def test_extrapolation_to_equal_length_is_flagged():
    n = 40
    cand = ["c" * (300 + 10 * k) for k in range(n)]  # always longer than the baseline
    prefs = np.r_[np.ones(30), np.zeros(10)]
    result = length_controlled_win_rate(prefs, cand, ["b" * 200] * n, n_resamples=200, seed="x")
    assert any("extrapolates" in w and "40 of 40" in w for w in result.warnings)
