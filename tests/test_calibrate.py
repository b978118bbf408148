"""Isotonic calibration and the pairwise tie threshold: out-of-sample figures and storable mappings."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from sklearn.isotonic import IsotonicRegression

from judge_service.errors import InvalidInput, LabelSetMismatch
from judge_service.stats.calibrate import (
    IsotonicMapping,
    _best_threshold,
    apply_mapping,
    calibrate_scores,
    fit_isotonic,
    fit_tie_threshold,
    predict_votes,
)


def distorted(seed: int, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """Human scores on 1..5 and a judge that sees them through a known monotone distortion plus noise."""
    rng = np.random.default_rng(seed)
    human = rng.integers(1, 6, n).astype(float)
    judge = 10 / (1 + np.exp(-(human - 3) * 1.5)) + rng.normal(0, 0.4, n)  # squashed onto 0..10
    return judge, human


def test_calibration_cuts_out_of_sample_error():
    judge, human = distorted(0)
    report = calibrate_scores(judge, human, folds=5)
    print(f"\nraw MAE {report.raw_mae:.3f} -> calibrated (5-fold, out of sample) {report.calibrated_mae:.3f}; "
          f"RMSE {report.raw_rmse:.3f} -> {report.calibrated_rmse:.3f}; "
          f"Spearman {report.raw_spearman:.3f} -> {report.calibrated_spearman:.3f}")
    assert report.n == 400 and report.folds == 5
    assert report.calibrated_mae < 0.25 * report.raw_mae
    assert report.calibrated_rmse < 0.25 * report.raw_rmse
    assert report.calibrated_pearson > report.raw_pearson
    # out of sample is never better than the same mapping scored on the data it was fitted to
    in_sample = np.mean(np.abs(apply_mapping(report.mapping, judge) - human))
    assert report.calibrated_mae >= in_sample


def test_cross_validation_is_out_of_sample_on_pure_noise():
    # an isotonic fit to noise looks good in sample; held-out folds expose it, on every seed
    for seed in range(5):
        rng = np.random.default_rng(seed)
        judge, human = rng.normal(size=300), rng.normal(size=300)
        report = calibrate_scores(judge, human, folds=5, seed=f"noise-{seed}")
        fitted = apply_mapping(report.mapping, judge)
        assert report.calibrated_mae > np.mean(np.abs(fitted - human))
        assert report.calibrated_pearson < sps.pearsonr(fitted, human).statistic - 0.05
        assert abs(report.calibrated_pearson) < 0.2


def test_mapping_round_trips_through_json_and_matches_sklearn_predict():
    judge, human = distorted(2, n=200)
    mapping = fit_isotonic(judge, human)
    stored = json.loads(json.dumps(mapping.to_json()))
    assert stored["kind"] == "isotonic" and IsotonicMapping.from_json(stored) == mapping
    probe = np.concatenate([np.linspace(judge.min() - 3, judge.max() + 3, 101), judge])
    model = IsotonicRegression(increasing=True, out_of_bounds="clip").fit(judge, human)
    np.testing.assert_allclose(apply_mapping(stored, probe), model.predict(probe), atol=1e-12)
    np.testing.assert_allclose(apply_mapping(mapping, [-100, 100]), [min(mapping.y), max(mapping.y)])
    assert all(b >= a for a, b in zip(mapping.y, mapping.y[1:]))


def test_bad_mappings_and_inputs_are_refused():
    with pytest.raises(InvalidInput, match="increasing"):
        IsotonicMapping.from_json({"x": [2, 1], "y": [1, 2]})
    with pytest.raises(InvalidInput, match="numeric"):
        IsotonicMapping.from_json({"x": [1]})
    with pytest.raises(InvalidInput, match="equal length"):
        calibrate_scores([1, 2, 3], [1, 2])
    with pytest.raises(InvalidInput, match="at least 10"):
        calibrate_scores(range(6), range(6), folds=5)
    with pytest.raises(InvalidInput, match="folds"):
        calibrate_scores(range(20), range(20), folds=1)


# --- pairwise tie threshold ----------------------------------------------------------------

def simulated_votes(seed: int, n: int = 600, tie_band: float = 0.12) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    latent = rng.uniform(0, 1, n)  # the humans' P(A better)
    human = np.where(np.abs(latent - 0.5) < tie_band, "tie", np.where(latent > 0.5, "A", "B"))
    prob_a = np.clip(latent + rng.normal(0, 0.03, n), 0, 1)  # the judge's, a little noisy
    return prob_a, human


def test_tie_threshold_recovers_the_band_and_beats_no_threshold_out_of_sample():
    prob_a, human = simulated_votes(0)
    fit = fit_tie_threshold(prob_a, human, folds=5)
    print(f"\ntie threshold {fit.threshold:.3f} (true 0.12); accuracy raw {fit.raw_accuracy:.3f} -> "
          f"cross-validated {fit.calibrated_accuracy:.3f} (in sample {fit.in_sample_accuracy:.3f})")
    assert fit.threshold == pytest.approx(0.12, abs=0.03)
    assert fit.calibrated_accuracy > fit.raw_accuracy + 0.15
    assert fit.in_sample_accuracy >= fit.calibrated_accuracy - 0.02
    assert fit.in_sample_accuracy == pytest.approx(np.mean(predict_votes(prob_a, fit.threshold) == human))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0.0, 0.2, 0.45, 0.5, 0.55, 0.6, 0.9, 1.0]),
                          st.sampled_from(["A", "B", "tie"])), min_size=1, max_size=30))
def test_threshold_search_is_optimal(pairs):
    prob_a = np.array([p for p, _ in pairs])
    human = np.array([v for _, v in pairs], dtype=object)
    best = _best_threshold(prob_a, human)
    grid = np.linspace(0, 0.51, 205)
    best_grid = max(np.mean(predict_votes(prob_a, t) == human) for t in grid)
    assert np.mean(predict_votes(prob_a, best) == human) == pytest.approx(best_grid)


def test_predict_votes_rule_and_vote_labels():
    assert list(predict_votes([0.5, 0.55, 0.7, 0.3, 0.45], 0.1)) == ["tie", "tie", "A", "B", "tie"]
    assert list(predict_votes([0.5, 0.55], 0.0)) == ["tie", "A"]
    with pytest.raises(LabelSetMismatch, match="Tie"):
        fit_tie_threshold([0.1] * 10, ["Tie"] * 10, folds=2)
    with pytest.raises(InvalidInput, match="probabilities"):
        fit_tie_threshold([1.5] * 10, ["A"] * 10, folds=2)
