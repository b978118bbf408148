"""Agreement statistics: alpha against the krippendorff package, label checks, levels, and the HTTP edge."""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from sklearn.metrics import cohen_kappa_score, precision_recall_fscore_support

from judge_service.api.agreement import router
from judge_service.errors import InvalidInput, LabelSetMismatch
from judge_service.stats.agreement.pairwise import _macro_prf_rows
from judge_service.stats.agreement.scores import _kappa_rows
from judge_service.stats.agreement import (
    BootstrapConfig,
    grouped_correlations,
    krippendorff_alpha,
    pairwise_agreement,
    rater_agreement,
    score_agreement,
    system_correlations,
)

FAST = BootstrapConfig(n_resamples=200)
LEVELS = ["nominal", "ordinal", "interval", "ratio"]


def with_missing(seed: int, raters: int, units: int, scale: int, missing: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    truth = rng.integers(1, scale + 1, units)
    data = np.clip(truth + rng.integers(-1, 2, (raters, units)), 1, scale).astype(float)
    data[rng.random(data.shape) < missing] = np.nan
    return data


# --- Krippendorff's alpha ------------------------------------------------------------------

@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("seed", range(8))
def test_alpha_matches_krippendorff_package_with_missing_values(level, seed):
    data = with_missing(seed, raters=2 + seed % 4, units=40, scale=5, missing=0.25)
    assert krippendorff_alpha(data, level) == pytest.approx(
        krippendorff.alpha(reliability_data=data, level_of_measurement=level), abs=1e-12)


def test_alpha_on_krippendorffs_published_example():
    # the package's docstring example (Krippendorff 2011): nominal 0.691358, interval 0.810845
    nan = np.nan
    data = np.array([[nan, nan, nan, nan, nan, 3, 4, 1, 2, 1, 1, 3, 3, nan, 3],
                     [1, nan, 2, 1, 3, 3, 4, 3, nan, nan, nan, nan, nan, nan, nan],
                     [nan, nan, 2, 1, 3, 4, 4, nan, 2, 1, 1, 3, 3, nan, 4]])
    assert round(krippendorff_alpha(data, "nominal"), 6) == 0.691358
    assert round(krippendorff_alpha(data, "interval"), 6) == 0.810845


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 5), st.integers(3, 25), st.lists(st.floats(0, 1), min_size=1, max_size=1),
       st.sampled_from(LEVELS), st.integers(0, 2**31 - 1))
def test_alpha_property_matches_package(raters, units, missing, level, seed):
    rng = np.random.default_rng(seed)
    data = rng.choice([0.0, 1.0, 2.5, 4.0, 7.0], size=(raters, units))
    data[rng.random(data.shape) < missing[0] * 0.6] = np.nan
    try:
        expected = krippendorff.alpha(reliability_data=data, level_of_measurement=level)
    except ValueError:
        with pytest.raises(InvalidInput):
            krippendorff_alpha(data, level)
        return
    if not np.isfinite(expected):  # the package divides 0/0 where every pairable value is equal
        with pytest.raises(InvalidInput):
            krippendorff_alpha(data, level)
        return
    assert krippendorff_alpha(data, level) == pytest.approx(expected, abs=1e-9)


def test_alpha_refuses_what_it_cannot_compute():
    with pytest.raises(InvalidInput, match="same value"):
        krippendorff_alpha(np.ones((3, 4)), "nominal")
    with pytest.raises(InvalidInput, match="two or more raters"):
        krippendorff_alpha(np.array([[1.0, np.nan], [np.nan, 2.0]]), "interval")
    with pytest.raises(InvalidInput, match="unknown level"):
        krippendorff_alpha(np.ones((2, 2)), "cardinal")


# --- label sets ----------------------------------------------------------------------------

def test_labels_outside_the_scale_are_a_mismatch_naming_them():
    gold, predictions = [1, 2, 2, 1, 2], [0, 1, 1, 0, 1]
    with pytest.raises(LabelSetMismatch) as caught:
        score_agreement(predictions, gold, labels=[1, 2], bootstrap=FAST)
    assert caught.value.field == "a" and "not on the scale [1, 2]: 0" in caught.value.message
    with pytest.raises(LabelSetMismatch, match=r"'b' has labels not on the scale \[1, 2, 3, 4, 5\]: 6"):
        score_agreement([1, 2, 3], [1, 2, 6], labels=[1, 2, 3, 4, 5], bootstrap=FAST)
    with pytest.raises(LabelSetMismatch, match="'1', '2'|1, 2"):
        pairwise_agreement(["1", "2", "A"], ["A", "B", "tie"], bootstrap=FAST)


def test_scale_must_be_sorted_and_distinct():
    with pytest.raises(InvalidInput, match="increasing"):
        score_agreement([1, 2], [2, 1], labels=[3, 2, 1], bootstrap=FAST)


def test_kappa_and_exact_agreement_need_the_scale():
    out = score_agreement([1, 2, 3, 4], [1, 2, 4, 4], bootstrap=FAST)
    assert out.quadratic_kappa.estimate is None and "labels" in out.quadratic_kappa.reason
    assert out.pearson.estimate == pytest.approx(sps.pearsonr([1, 2, 3, 4], [1, 2, 4, 4]).statistic)


def test_score_agreement_matches_the_libraries():
    rng = np.random.default_rng(7)
    human = rng.integers(1, 6, 200)
    judge = np.clip(human + rng.integers(-2, 3, 200), 1, 5)
    out = score_agreement(judge, human, labels=[1, 2, 3, 4, 5], bootstrap=FAST)
    assert out.quadratic_kappa.estimate == pytest.approx(
        cohen_kappa_score(judge, human, labels=[1, 2, 3, 4, 5], weights="quadratic"))
    assert out.kendall.estimate == pytest.approx(sps.kendalltau(judge, human, variant="b").statistic)
    assert out.spearman.estimate == pytest.approx(sps.spearmanr(judge, human).statistic)
    assert out.exact_agreement.estimate == pytest.approx(np.mean(judge == human))
    assert out.within_one_agreement.estimate == pytest.approx(np.mean(np.abs(judge - human) <= 1))
    for est in (out.pearson, out.spearman, out.kendall, out.exact_agreement, out.quadratic_kappa):
        assert est.ci_low < est.estimate < est.ci_high and est.n == 200


def test_bootstrap_is_seeded_from_a_string():
    a, b = [1, 3, 2, 5, 4, 4, 2, 1, 5, 3], [1, 2, 2, 5, 5, 4, 1, 1, 4, 3]
    one = score_agreement(a, b, labels=[1, 2, 3, 4, 5], bootstrap=BootstrapConfig(n_resamples=200, seed="x"))
    two = score_agreement(a, b, labels=[1, 2, 3, 4, 5], bootstrap=BootstrapConfig(n_resamples=200, seed="x"))
    other = score_agreement(a, b, labels=[1, 2, 3, 4, 5], bootstrap=BootstrapConfig(n_resamples=200, seed="y"))
    assert one == two and one.pearson.ci_low != other.pearson.ci_low


def test_vectorised_resample_statistics_equal_sklearn():
    rng = np.random.default_rng(3)
    truth, pred = rng.integers(0, 3, (50, 40)), rng.integers(0, 3, (50, 40))
    pred[:5, :] = 2  # some resamples where a class is never predicted (zero_division=0)
    for weights in (None, "linear", "quadratic"):
        vectorised = _kappa_rows(pred, truth, 3, weights)
        expected = [cohen_kappa_score(p, t, labels=[0, 1, 2], weights=weights) for p, t in zip(pred, truth)]
        np.testing.assert_allclose(vectorised, expected, atol=1e-12)
    precision, recall, f1 = _macro_prf_rows(truth, pred, np.array([0, 1, 2]))
    expected = np.array([precision_recall_fscore_support(t, p, labels=[0, 1, 2], average="macro", zero_division=0)[:3]
                         for t, p in zip(truth, pred)])
    np.testing.assert_allclose(np.c_[precision, recall, f1], expected, atol=1e-12)


# --- levels --------------------------------------------------------------------------------

def test_grouped_level_skips_and_counts_constant_groups():
    a = [1, 2, 3, 4, 2, 2, 2, 5, 1, 3, 2, 4]
    b = [1, 3, 2, 4, 1, 2, 3, 5, 2, 2, 1, 4]
    groups = ["p1"] * 4 + ["p2"] * 3 + ["p3"] + ["p4"] * 4   # p2: a constant; p3: a single item
    out = grouped_correlations(a, b, groups, bootstrap=FAST)
    assert (out.groups_used, out.groups_skipped) == (2, 2)
    expected = np.mean([sps.pearsonr(a[:4], b[:4]).statistic, sps.pearsonr(a[8:], b[8:]).statistic])
    assert out.pearson.estimate == pytest.approx(expected) and out.pearson.n == 2
    kendall = np.mean([sps.kendalltau(a[:4], b[:4]).statistic, sps.kendalltau(a[8:], b[8:]).statistic])
    assert out.kendall.estimate == pytest.approx(kendall)


def test_grouped_level_with_only_constant_groups_says_why():
    out = grouped_correlations([1, 1, 2, 2], [1, 2, 3, 4], ["x", "x", "y", "y"], bootstrap=FAST)
    assert out.pearson.estimate is None and out.groups_skipped == 2 and "constant" in out.pearson.reason


def test_system_level_correlates_system_means():
    rng = np.random.default_rng(11)
    systems = np.repeat(["s1", "s2", "s3", "s4", "s5"], 30)
    quality = np.repeat([1.0, 2.0, 3.0, 3.5, 5.0], 30)
    human = quality + rng.normal(0, 1, 150)
    judge = 0.5 * quality + rng.normal(0, 1, 150)
    out = system_correlations(judge, human, systems, bootstrap=FAST)
    means_j = [judge[systems == s].mean() for s in ["s1", "s2", "s3", "s4", "s5"]]
    means_h = [human[systems == s].mean() for s in ["s1", "s2", "s3", "s4", "s5"]]
    assert out.pearson.estimate == pytest.approx(sps.pearsonr(means_j, means_h).statistic)
    assert out.spearman.estimate == pytest.approx(sps.spearmanr(means_j, means_h).statistic)
    assert out.pearson.n == 5 and out.pearson.ci_low <= out.pearson.estimate <= out.pearson.ci_high
    assert system_correlations(judge[:60], human[:60], systems[:60], bootstrap=FAST).pearson.estimate is None


# --- pairwise votes and many raters --------------------------------------------------------

def test_pairwise_accuracy_with_and_without_ties_and_positional_agreement():
    judge = ["A", "A", "B", "tie", "B", "A", "tie", "B"]
    human = ["A", "B", "B", "tie", "tie", "A", "A", "B"]
    swapped = ["A", "B", "B", "tie", "B", "A", "A", "A"]
    out = pairwise_agreement(judge, human, a_swapped=swapped, bootstrap=FAST)
    assert out.accuracy.estimate == pytest.approx(5 / 8)
    # both non-tie on items 0, 1, 2, 5, 7: agreeing on 0, 2, 5, 7
    assert out.accuracy_without_ties.estimate == pytest.approx(4 / 5) and out.accuracy_without_ties.n == 5
    assert out.positional_agreement.estimate == pytest.approx(5 / 8)
    assert out.cohen_kappa.estimate == pytest.approx(cohen_kappa_score(judge, human))
    assert out.macro_f1.estimate == pytest.approx(
        precision_recall_fscore_support(human, judge, average="macro", zero_division=0)[2])


def test_rater_agreement_alpha_and_each_rater_vs_the_rest():
    data = with_missing(5, raters=4, units=60, scale=5, missing=0.2)
    ratings = [[None if np.isnan(v) else float(v) for v in row] for row in data]
    out = rater_agreement(ratings, "ordinal", labels=[1, 2, 3, 4, 5], bootstrap=FAST)
    assert out.alpha.estimate == pytest.approx(krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal"))
    assert out.alpha.ci_low < out.alpha.estimate < out.alpha.ci_high
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning, match="empty"):
        rest = np.nanmean(data[1:], axis=0)
    keep = ~np.isnan(data[0]) & ~np.isnan(rest)
    first = out.rater_vs_rest[0].statistics
    assert first["pearson"].estimate == pytest.approx(sps.pearsonr(data[0, keep], rest[keep]).statistic)
    assert first["pearson"].n == keep.sum() and len(out.rater_vs_rest) == 4


def test_rater_agreement_on_votes_uses_the_strict_majority_of_the_others():
    ratings = [["A", "A", "B", "tie", "A", None],
               ["A", "B", "B", "tie", "B", "A"],
               ["A", "A", "B", "A", "B", "A"]]
    out = rater_agreement(ratings, "pairwise", bootstrap=FAST)
    # rater 0 vs majority of raters 1, 2: items 0 (A), 2 (B), 4 (B); items 1, 3 split, 5 not voted
    assert out.rater_vs_rest[0].statistics["accuracy"].estimate == pytest.approx(2 / 3)
    assert out.rater_vs_rest[0].statistics["accuracy"].n == 3
    assert [(p.rater_a, p.rater_b) for p in out.pairs] == [(0, 1), (0, 2), (1, 2)]


# --- the HTTP edge -------------------------------------------------------------------------

@pytest.fixture
def api(client):
    if not any(getattr(r, "path", None) == "/v1/agreement" for r in client.app.routes):
        client.app.include_router(router)
    return client


@pytest.mark.parametrize(("body", "field", "code"), [
    ({"kind": "interval", "a": [1, 2, 3], "b": [1, 2]}, "b", "invalid_input"),
    ({"kind": "interval", "a": [1, 2, 3]}, "b", "invalid_input"),
    ({"kind": "ordinal", "a": [1, 2, 3], "b": [1, 2, 2]}, "labels", "invalid_input"),
    ({"kind": "ordinal", "a": [0, 1, 1], "b": [1, 2, 2], "labels": [1, 2]}, "a", "label_set_mismatch"),
    ({"kind": "pairwise", "a": ["1", "2"], "b": ["A", "B"]}, "a", "label_set_mismatch"),
    ({"kind": "interval", "a": [1, 2, 3], "b": [1, 2, 3], "groups": ["x", "y"]}, "groups", "invalid_input"),
    ({"kind": "interval", "a": [1, "x"], "b": [1, 2]}, "a", "invalid_input"),
    ({"kind": "interval", "a": [1, 2], "b": [1, 2], "ratings": [[1, 2], [2, 1]]}, "a", "invalid_input"),
    ({"kind": "interval", "a": [1, 2], "b": [1, 2], "colour": "red"}, "colour", "invalid_input"),
    ({"kind": "categorical", "a": [1, 2], "b": [1, 2]}, "kind", "invalid_input"),
    ({"kind": "interval", "ratings": [[1, 2, 3], [1, 2]]}, "ratings", "invalid_input"),
])
def test_bad_requests_are_422_naming_the_field(api, body, field, code):
    response = api.post("/v1/agreement", json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == field and error["code"] == code and error["message"]


def test_http_ratings_levels_and_null_cis(api):
    body = {"kind": "ordinal", "labels": [1, 2, 3, 4, 5], "n_resamples": 200,
            "a": [1, 2, 3, 4, 5, 2, 3, 4, 1, 5, 3, 3], "b": [1, 3, 3, 4, 4, 2, 2, 5, 1, 5, 3, 4],
            "groups": ["g1"] * 4 + ["g2"] * 4 + ["g3"] * 4, "systems": ["s1", "s2", "s3"] * 4}
    out = api.post("/v1/agreement", json=body).json()
    assert out["scores"]["quadratic_kappa"]["n"] == 12 and out["grouped"]["groups_used"] == 3
    assert out["system"]["pearson"]["n"] == 3 and out["raters"] is None
    ratings = {"kind": "interval", "ratings": [[1.0, 2.0, None, 4.0, 3.5], [1.5, 2.0, 3.0, None, 3.0],
                                               [1.0, 2.5, 3.0, 4.5, None]], "n_resamples": 200}
    raters = api.post("/v1/agreement", json=ratings).json()["raters"]
    assert raters["alpha_level"] == "interval" and raters["units"] == 5
    assert raters["alpha"]["estimate"] == pytest.approx(krippendorff.alpha(
        reliability_data=[[1, 2, np.nan, 4, 3.5], [1.5, 2, 3, np.nan, 3], [1, 2.5, 3, 4.5, np.nan]],
        level_of_measurement="interval"))
    # a constant side: the estimate is null and says why instead of failing the request
    flat = api.post("/v1/agreement", json={"kind": "interval", "a": [1, 1, 1], "b": [1, 2, 3]}).json()
    assert flat["scores"]["pearson"]["estimate"] is None and flat["scores"]["pearson"]["reason"]
