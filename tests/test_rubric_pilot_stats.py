"""The statistics of a rubric pilot and of wording variance, checked against statsmodels, the
krippendorff package and hand computations; the wording-sensitivity flag's false-alarm rate and
power measured by simulation over many seeds, with data drawn from the fake judges' own policies."""

from __future__ import annotations

import random

import krippendorff
import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from statsmodels.stats.anova import anova_lm

from judge_service.engine.prompts import answer_instructions
from judge_service.judges.base import AnswerField
from judge_service.pilot.report import PilotInputs, ScoreObservation, pilot_report
from judge_service.stats.agreement import krippendorff_alpha
from judge_service.stats.estimate import Estimate
from judge_service.stats.wording import score_distribution, widen_for_wording, wording_test, wording_variance
from judge_service.testing.policies import POLICIES, choose, view_from_text

FIELDS = (AnswerField("helpfulness", tuple(str(i) for i in range(1, 11))),)
WORDINGS = {"default": "Judge how helpful the response is.",
            "errors": "Does the response contain any factual errors? Judge how helpful it is."}


def test_score_distribution_by_hand():
    d = score_distribution([1, 1, 2, 4.4, 5, 5, 5.2], (1, 5))
    assert d.histogram == {1: 2, 2: 1, 3: 0, 4: 1, 5: 3}
    assert d.floor_share == pytest.approx(2 / 7) and d.ceiling_share == pytest.approx(3 / 7)
    assert d.unused_points == [3]
    assert d.mean == pytest.approx(np.mean([1, 1, 2, 4.4, 5, 5, 5.2]))
    assert d.sd == pytest.approx(np.std([1, 1, 2, 4.4, 5, 5, 5.2], ddof=1))


def test_wording_test_matches_statsmodels_two_way_anova():
    rng = np.random.default_rng(3)
    n, v, k = 12, 3, 4
    cube = rng.normal(5, 1, (n, 1, 1)) + np.array([0.0, 0.4, -0.3])[None, :, None] + rng.normal(0, 0.8, (n, v, k))
    rows = [{"y": cube[i, j, s], "item": f"i{i}", "variant": f"v{j}"} for i in range(n) for j in range(v) for s in range(k)]
    table = anova_lm(smf.ols("y ~ C(item) * C(variant)", data=pd.DataFrame(rows)).fit())
    # Our F tests variant + item×variant together against the within-cell error.
    effect = table.loc["C(variant)", "sum_sq"] + table.loc["C(item):C(variant)", "sum_sq"]
    df1 = table.loc["C(variant)", "df"] + table.loc["C(item):C(variant)", "df"]
    expected_f = (effect / df1) / table.loc["Residual", "mean_sq"]
    got = wording_test(cube)
    assert got.df == (int(df1), int(table.loc["Residual", "df"]))
    assert got.f_statistic == pytest.approx(expected_f, rel=1e-9)
    assert got.noise_sd == pytest.approx(np.sqrt(table.loc["Residual", "mean_sq"]))


def test_wording_test_without_repeats_matches_additive_anova():
    rng = np.random.default_rng(4)
    cube = rng.normal(5, 1, (15, 1, 1)) + np.array([0.0, 1.0])[None, :, None] + rng.normal(0, 0.5, (15, 2, 1))
    rows = [{"y": cube[i, j, 0], "item": f"i{i}", "variant": f"v{j}"} for i in range(15) for j in range(2)]
    table = anova_lm(smf.ols("y ~ C(item) + C(variant)", data=pd.DataFrame(rows)).fit())
    got = wording_test(cube)
    assert got.basis == "no_repeat_samples"
    assert got.f_statistic == pytest.approx(table.loc["C(variant)", "F"], rel=1e-9)
    assert got.p_value == pytest.approx(table.loc["C(variant)", "PR(>F)"], rel=1e-6)


def test_identical_wordings_are_not_flagged_and_a_noiseless_difference_is():
    same = np.repeat(np.arange(10.0)[:, None, None], 2, axis=1).repeat(3, axis=2)
    assert not wording_test(same).sensitive and wording_test(same).p_value == 1.0
    shifted = same.copy()
    shifted[:, 1, :] -= 2
    assert wording_test(shifted).sensitive


def test_wording_variance_by_hand():
    m = np.array([[1.0, 3.0], [2.0, 4.5], [3.0, 5.0], [4.0, 6.5]])
    n, v = m.shape
    grand, item, variant = m.mean(), m.mean(axis=1, keepdims=True), m.mean(axis=0, keepdims=True)
    ms_v = n * ((variant - grand) ** 2).sum() / (v - 1)
    ms_r = ((m - item - variant + grand) ** 2).sum() / ((n - 1) * (v - 1))
    got = wording_variance(m)
    assert got.tau2 == pytest.approx((ms_v - ms_r) / n)
    assert got.variance_of_mean() == pytest.approx((ms_v - ms_r) / n / 2)
    assert wording_variance(np.c_[m[:, 0], m[:, 0]]).tau2 == 0.0


def test_widening_adds_wording_variance_in_quadrature():
    est = Estimate(0.3, 0.1, 0.5, 40)
    tau = wording_variance(np.array([[0.0, 1.0], [0.1, 1.2], [0.3, 1.1], [0.2, 0.9]]))
    got = widen_for_wording(est, tau, 0.95)
    z = 1.959963984540054
    assert got.estimate.ci_high - 0.3 == pytest.approx(np.sqrt(0.2 ** 2 + z ** 2 * tau.tau2 / 2))
    assert 0 < got.share_of_width_from_wording < 1
    assert widen_for_wording(est, wording_variance(np.ones((4, 2))), 0.95).estimate == est


def test_alpha_between_variants_matches_the_krippendorff_package():
    rng = np.random.default_rng(5)
    data = rng.normal(5, 2, (1, 20)) + rng.normal(0, 1, (3, 20))
    assert krippendorff_alpha(data, "interval") == pytest.approx(
        krippendorff.alpha(reliability_data=data, level_of_measurement="interval"), abs=1e-9)


# --- simulation: the flag's false-alarm rate and power --------------------------------------

def _prompt(wording: str, response: str) -> str:
    return f"{WORDINGS[wording]}\n\n<response>\n{response}\n</response>\n\n{answer_instructions(FIELDS)}"


def _simulated_pilot(policy_name: str, seed: int, n_items: int = 25, samples: int = 3) -> PilotInputs:
    """A pilot's observations drawn exactly as the scripted judge draws them (temperature 1)."""
    policy = POLICIES[policy_name]
    rng = random.Random(seed)
    lengths = [rng.randint(40, 200) for _ in range(n_items)]
    scores = []
    for i, length in enumerate(lengths):
        response = "x" * length
        for wording in WORDINGS:
            prompt = _prompt(wording, response)
            for k in range(samples):
                draw = random.Random(f"{seed}:{k}:{prompt}")
                dist = policy(view_from_text(prompt, FIELDS), draw)
                scores.append(ScoreObservation(f"q{i}", wording, "judge", k, float(choose(dist["helpfulness"], 1.0, draw))))
    return PilotInputs(variants=list(WORDINGS), judges=["judge"], samples=samples, scale=(1, 10), scores=scores,
                       pairs=[], n_resamples=400, seed=f"sim/{seed}")


ALPHA = 0.05
N_SEEDS = 300


def test_wording_insensitive_policy_flags_in_no_more_than_alpha_of_seeds():
    flagged = 0
    for seed in range(N_SEEDS):
        data = _simulated_pilot("score_by_length", seed)
        cube = _cube(data)
        flagged += wording_test(cube, alpha=ALPHA).sensitive
    rate = flagged / N_SEEDS
    # The stated rate is alpha; allow three binomial standard errors of simulation noise above it.
    assert rate <= ALPHA + 3 * np.sqrt(ALPHA * (1 - ALPHA) / N_SEEDS), rate
    assert rate > 0  # the test is not trivially conservative (it would never flag anything)


def test_two_point_wording_shift_is_flagged_in_nearly_every_seed_with_its_ci_excluding_zero():
    hits = 0
    for seed in range(40):
        report = pilot_report(_simulated_pilot("wording_sensitive", seed))
        diff = report["absolute"]["differences"][0]
        hits += report["wording_sensitive"] and diff["excludes_zero"] and diff["difference"]["ci_high"] < -1.0
    assert hits >= 39


def _cube(data: PilotInputs) -> np.ndarray:
    items = sorted({o.item_id for o in data.scores})
    cube = np.full((len(items), len(data.variants), data.samples), np.nan)
    for o in data.scores:
        cube[items.index(o.item_id), data.variants.index(o.variant), o.sample_index] = o.score
    return cube
