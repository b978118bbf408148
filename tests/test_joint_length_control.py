"""The joint length-controlled fit over several checkpoints (issue 14 §3b): on one-sided synthetic
sets drawn from the GLM it fits, it recovers each checkpoint's true LC win rate."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

from judge_service.bias.joint import ModelInput, joint_length_control
from judge_service.errors import InvalidInput


def one_sided_checkpoints(n: int = 300, seed: int = 0):
    rng = np.random.default_rng(seed)
    items = [f"i{k}" for k in range(n)]
    difficulty = rng.normal(0, 1.2, n)
    base_len = rng.integers(200, 1500, n).astype(float)
    models, truth = {}, {}
    for name, theta, ratio in (("short", -0.6, 0.45), ("mid", 0.1, 1.3), ("long", 0.4, 2.2)):
        cand_len = base_len * ratio * rng.lognormal(0, 0.15, n)
        delta = cand_len - base_len  # one-sided: shorter (or longer) on nearly every item
        p = special.expit(theta + 0.9 * np.tanh(delta / delta.std(ddof=1)) + difficulty)
        models[name] = ModelInput(items, list(p), list(delta))
        truth[name] = float(np.mean(special.expit(theta + difficulty)))
    return models, truth


def test_joint_fit_recovers_the_true_lc_on_one_sided_sets():
    models, truth = one_sided_checkpoints()
    assert all(np.mean(np.sign(m.delta_len) == np.sign(np.median(m.delta_len))) > 0.9 for m in models.values())
    fit = joint_length_control(models)
    errors = [abs(fit.length_controlled[m] - truth[m]) for m in truth]
    assert np.mean(errors) <= 0.01 and max(errors) <= 0.015, errors
    # the raw win rate is far off for the one-sided checkpoints: the control is doing the work
    assert abs(fit.win_rate["short"] - truth["short"]) > 0.05
    assert abs(np.mean(list(fit.difficulty.values()))) < 1e-9  # d is centred
    assert fit.length_slope["long"] == pytest.approx(0.9, abs=0.1)


def test_joint_fit_needs_two_models_and_soft_preferences():
    models, _ = one_sided_checkpoints(20)
    with pytest.raises(InvalidInput) as err:
        joint_length_control({"short": models["short"]})
    assert err.value.field == "models"
    bad = ModelInput(["a", "b"], [0.5, 1.5], [1.0, -1.0])
    with pytest.raises(InvalidInput) as err:
        joint_length_control({"short": models["short"], "bad": bad})
    assert err.value.field == "models.bad.preference"
