"""Prediction-powered inference: the formulas, and coverage/width over many simulated data sets."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from judge_service.errors import InvalidInput
from judge_service.stats.ppi import classical_mean_ci, ppi_mean_ci

TRUE_MEAN = 3.0


def simulate(seed: int, n: int = 100, big_n: int = 2000, judge_noise: float = 0.5):
    """Human scores with mean 3; a judge that tracks them but is compressed (x0.8) and biased (mean 3.4)."""
    rng = np.random.default_rng(seed)
    human = rng.normal(TRUE_MEAN, 1.0, n + big_n)
    judge = 0.8 * human + 1.0 + rng.normal(0, judge_noise, n + big_n)
    return human[:n], judge[:n], judge[n:]


def test_formulas_match_ppi_py_by_hand():
    human, judge_l, judge_u = simulate(0, n=50, big_n=400)
    out = ppi_mean_ci(human, judge_l, judge_u, confidence=0.9)
    z = sps.norm.ppf(0.95)
    estimate = judge_u.mean() + (human - judge_l).mean()
    se = np.sqrt(judge_u.var() / 400 + (human - judge_l).var() / 50)  # ddof=0, as ppi_py's np.std
    assert out.ppi.estimate == pytest.approx(estimate)
    assert (out.ppi.ci_low, out.ppi.ci_high) == pytest.approx((estimate - z * se, estimate + z * se))
    assert out.rectifier == pytest.approx((human - judge_l).mean()) and out.lam == 1.0
    classical, _ = classical_mean_ci(human, confidence=0.9)
    assert out.classical == classical
    assert (classical.ci_low, classical.ci_high) == pytest.approx(
        (human.mean() - z * human.std() / np.sqrt(50), human.mean() + z * human.std() / np.sqrt(50)))


def test_lambda_zero_is_the_classical_estimate_and_tuning_follows_ppi_plus_plus():
    human, judge_l, judge_u = simulate(1, n=80, big_n=500)
    zero = ppi_mean_ci(human, judge_l, judge_u, lam=0.0)
    assert zero.ppi.estimate == pytest.approx(human.mean())
    assert zero.ppi_se == pytest.approx(zero.classical_se)
    tuned = ppi_mean_ci(human, judge_l, judge_u, lam="tune")
    cov = np.mean((human - human.mean()) * (judge_l - judge_l.mean()))
    expected = cov / ((1 + 80 / 500) * np.var(np.concatenate([judge_l, judge_u]), ddof=1))
    assert tuned.lam == pytest.approx(np.clip(expected, 0, 1)) and tuned.ppi.method == "ppi++"


def test_coverage_and_width_over_many_seeds():
    seeds = range(1000)
    covered = {"ppi": 0, "ppi++": 0, "classical": 0}
    widths = {"ppi": [], "ppi++": [], "classical": []}
    for seed in seeds:
        human, judge_l, judge_u = simulate(seed)
        plain = ppi_mean_ci(human, judge_l, judge_u)
        tuned = ppi_mean_ci(human, judge_l, judge_u, lam="tune")
        for name, interval in (("ppi", plain.ppi), ("ppi++", tuned.ppi), ("classical", plain.classical)):
            covered[name] += interval.ci_low <= TRUE_MEAN <= interval.ci_high
            widths[name].append(interval.ci_high - interval.ci_low)
    coverage = {k: v / len(seeds) for k, v in covered.items()}
    mean_width = {k: float(np.mean(v)) for k, v in widths.items()}
    print(f"\n95% CI over {len(seeds)} simulated sets (n=100 human labels, N=2000 judge-only items): "
          + "; ".join(f"{k} coverage {coverage[k]:.3f}, mean width {mean_width[k]:.3f}" for k in coverage))
    for name in coverage:
        assert 0.92 <= coverage[name] <= 0.98, (name, coverage[name])
    assert mean_width["ppi"] < 0.8 * mean_width["classical"]
    assert mean_width["ppi++"] <= mean_width["ppi"] * 1.01


def test_tuned_lambda_protects_against_a_useless_judge():
    widths = {"ppi": [], "ppi++": [], "classical": []}
    covered = 0
    for seed in range(300):
        rng = np.random.default_rng(10_000 + seed)
        human = rng.normal(TRUE_MEAN, 1.0, 100)
        judge_l, judge_u = rng.normal(0, 2.0, 100), rng.normal(0, 2.0, 2000)  # unrelated to the humans
        plain = ppi_mean_ci(human, judge_l, judge_u)
        tuned = ppi_mean_ci(human, judge_l, judge_u, lam="tune")
        covered += tuned.ppi.ci_low <= TRUE_MEAN <= tuned.ppi.ci_high
        widths["ppi"].append(plain.ppi.ci_high - plain.ppi.ci_low)
        widths["ppi++"].append(tuned.ppi.ci_high - tuned.ppi.ci_low)
        widths["classical"].append(plain.classical.ci_high - plain.classical.ci_low)
    mean_width = {k: float(np.mean(v)) for k, v in widths.items()}
    print(f"\nuseless judge, 300 sets: mean width {mean_width}; PPI++ coverage {covered / 300:.3f}")
    # plain PPI pays for the judge's noise; PPI++ shrinks lam towards 0 and stays near classical
    assert mean_width["ppi"] > 1.5 * mean_width["classical"]
    assert mean_width["ppi++"] < 1.1 * mean_width["classical"]
    assert 0.90 <= covered / 300 <= 0.99


def test_bad_inputs_name_the_field():
    with pytest.raises(InvalidInput) as caught:
        ppi_mean_ci([1, 2, 3], [1, 2], [1, 2, 3])
    assert caught.value.field == "judge_labeled"
    with pytest.raises(InvalidInput, match="lam"):
        ppi_mean_ci([1, 2], [1, 2], [1, 2], lam=2.0)
    with pytest.raises(InvalidInput, match="confidence"):
        classical_mean_ci([1, 2, 3], confidence=95)
    with pytest.raises(InvalidInput, match="missing"):
        ppi_mean_ci([1, np.nan], [1, 2], [1, 2])
