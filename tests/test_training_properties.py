"""Property checks of the curve analysis over seeded synthetic curves (error rates by simulation).

- U-shaped curves (descent, minimum at a known eval, a rise of 6-15 noise sds by the end) with
  Gaussian noise: the onset is found within one eval of the true minimum.
- Monotone decreasing curves with the same noise: the false-alarm rate (verdict overfitting) over
  400 seeds stays under the stated 5 % (the trend test's one-sided level); the measured rate is
  printed (pytest -s) and is reported in the README.
"""

from __future__ import annotations

import numpy as np

from judge_service.stats.estimate import rng_from_seed
from judge_service.training.curve import analyse_curve

EVALS = 30
TRAIN = (list(range(0, 3001, 10)), list(np.linspace(3.0, 0.5, 301)))


def _curve(values: np.ndarray):
    steps = [100 * (i + 1) for i in range(len(values))]
    return analyse_curve("eval_loss", steps, list(values), [None] * len(values), greater_is_better=False,
                         train_steps=TRAIN[0], train_loss=TRAIN[1])


def test_onset_within_one_eval_of_the_true_minimum():
    hits, found = 0, 0
    trials = 200
    for seed in range(trials):
        rng = rng_from_seed(f"u/{seed}")
        sigma = 0.01
        t0 = int(rng.integers(8, 20))
        x = np.arange(EVALS, dtype=float)
        rise = rng.uniform(6, 15) * sigma / (EVALS - 1 - t0)  # the rise by the end: 6-15 sd
        truth = 2.0 + np.where(x < t0, 0.03 * (t0 - x), rise * (x - t0))
        a = _curve(truth + rng.normal(0, sigma, EVALS))
        assert a is not None
        if a.onset is not None:
            found += 1
            hits += abs(a.onset.step // 100 - 1 - t0) <= 1
    print(f"\nU-shaped: onset reported in {found}/{trials}, within one eval of truth in {hits}/{trials}")
    assert found >= 0.95 * trials
    assert hits >= 0.95 * trials


def test_false_alarm_rate_on_monotone_noisy_curves():
    trials, alarms, possible = 400, 0, 0
    for seed in range(trials):
        rng = rng_from_seed(f"monotone/{seed}")
        x = np.arange(EVALS, dtype=float)
        truth = 2.0 + 0.5 * np.exp(-x / 8)  # decreasing, flattening: the hard case
        a = _curve(truth + rng.normal(0, 0.01, EVALS))
        assert a is not None
        alarms += a.verdict == "overfitting"
        possible += a.verdict == "possible_overfitting"
    rate = alarms / trials
    print(f"\nmonotone: false 'overfitting' {alarms}/{trials} = {rate:.3f}; 'possible_overfitting' {possible}/{trials}")
    assert rate <= 0.05
