"""A joint length-controlled fit for several candidates (checkpoints) judged against one baseline.

AlpacaEval 2's leaderboard GLM (Dubois et al. 2024, "Length-Controlled AlpacaEval", eq. 2) gives
every instruction a difficulty shared by all models, which a single candidate/baseline pair
cannot identify (see ``judge_service.bias.length``). With several candidates on the same items
it can be fitted jointly:

    logit P(model m preferred on item i) = θ_m + φ_m·tanh(Δlen_mi / sd_m(Δlen)) + γ_m·d_i

``d_i`` is shared across models (mean 0, a small ridge keeps it finite where every model wins
or loses); ``γ_m`` is each model's sensitivity to it (ridge towards 1, which fixes the scale).
The length-controlled win rate of model m is the mean over items of σ(θ_m + γ_m·d_i): the
preference predicted at equal length. This is the model of AlpacaEval's
``length_controlled_noreg`` (its formula without the gamed-baseline rows) with the difficulty
estimated from the user's own models instead of AlpacaEval's precomputed one.

Targets are soft preferences in [0, 1] (ties 0.5), fitted by their Bernoulli log loss. Pure; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

from judge_service.errors import InvalidInput

DIFFICULTY_L2 = 1e-2  # per item, on d_i: keeps an item every model wins (or loses) finite
SENSITIVITY_L2 = 1e-2  # per model, on γ_m − 1: fixes the scale shared by γ and d
SLOPE_L2 = 1e-3  # as bias.length.DEFAULT_L2: a separable length term stays finite


@dataclass(frozen=True)
class ModelInput:
    """One candidate's soft preferences over the baseline and the length difference on each item."""

    items: Sequence[str]
    preference: Sequence[float]  # P(candidate preferred), in [0, 1]
    delta_len: Sequence[float]  # candidate − baseline length


@dataclass(frozen=True)
class JointFit:
    """Per-model terms and the shared per-item difficulty of the joint GLM."""

    models: tuple[str, ...]
    items: tuple[str, ...]
    intercept: dict[str, float]  # θ_m
    length_slope: dict[str, float]  # φ_m, on tanh of the standardised length difference
    sensitivity: dict[str, float]  # γ_m
    difficulty: dict[str, float]  # d_i
    length_controlled: dict[str, float]  # mean_i σ(θ_m + γ_m d_i) over the model's items
    win_rate: dict[str, float]  # mean soft preference, uncontrolled


def joint_length_control(models: Mapping[str, ModelInput]) -> JointFit:
    """Fit the joint GLM; every model must share items with the others (the difficulty is common)."""
    if len(models) < 2:
        raise InvalidInput("a joint fit needs at least two candidates judged against the same baseline; with one, "
                           "use the per-run length-controlled win rate", field="models")
    names = tuple(models)
    items = tuple(dict.fromkeys(i for m in models.values() for i in m.items))
    index = {i: k for k, i in enumerate(items)}
    rows_m, rows_i, ys, xs = [], [], [], []
    for mi, name in enumerate(names):
        m = models[name]
        if not (len(m.items) == len(m.preference) == len(m.delta_len)) or len(m.items) < 2:
            raise InvalidInput(f"model '{name}': items, preference and delta_len must be paired, 2 or more",
                               field=f"models.{name}")
        y = np.asarray(m.preference, dtype=float)
        if not np.all((y >= 0) & (y <= 1)):
            raise InvalidInput(f"model '{name}': preferences must lie in [0, 1]", field=f"models.{name}.preference")
        d = np.asarray(m.delta_len, dtype=float)
        sd = float(np.std(d, ddof=1))
        xs.append(np.tanh(d / sd) if sd > 0 else np.zeros_like(d))
        ys.append(y)
        rows_m.append(np.full(len(y), mi))
        rows_i.append(np.array([index[i] for i in m.items]))
    mm, ii, y, x = (np.concatenate(v) for v in (rows_m, rows_i, ys, xs))
    k, n = len(names), len(items)

    def unpack(p: np.ndarray) -> tuple[np.ndarray, ...]:
        return p[:k], p[k:2 * k], p[2 * k:3 * k], p[3 * k:]

    def loss(p: np.ndarray) -> tuple[float, np.ndarray]:
        theta, phi, gamma, diff = unpack(p)
        eta = theta[mm] + phi[mm] * x + gamma[mm] * diff[ii]
        # Bernoulli log loss with soft targets: y·log σ(η) + (1 − y)·log σ(−η)
        value = float(np.sum(np.logaddexp(0, eta) - y * eta))
        r = special.expit(eta) - y
        g_theta = np.bincount(mm, r, k)
        g_phi = np.bincount(mm, r * x, k) + 2 * SLOPE_L2 * phi
        g_gamma = np.bincount(mm, r * diff[ii], k) + 2 * SENSITIVITY_L2 * (gamma - 1)
        g_diff = np.bincount(ii, r * gamma[mm], n) + 2 * DIFFICULTY_L2 * diff
        value += SLOPE_L2 * float(phi @ phi) + SENSITIVITY_L2 * float((gamma - 1) @ (gamma - 1)) \
            + DIFFICULTY_L2 * float(diff @ diff)
        return value, np.concatenate([g_theta, g_phi, g_gamma, g_diff])

    start = np.concatenate([np.zeros(2 * k), np.ones(k), np.zeros(n)])
    res = optimize.minimize(loss, start, jac=True, method="L-BFGS-B", options={"maxiter": 5000, "gtol": 1e-9})
    theta, phi, gamma, diff = unpack(res.x)
    centre = float(diff.mean())  # d has mean 0: the shift moves into each model's intercept
    diff = diff - centre
    theta = theta + gamma * centre
    lc = {name: float(np.mean(special.expit(theta[mi] + gamma[mi] * diff[rows_i[mi]])))
          for mi, name in enumerate(names)}
    return JointFit(names, items, dict(zip(names, map(float, theta))), dict(zip(names, map(float, phi))),
                    dict(zip(names, map(float, gamma))), dict(zip(items, map(float, diff))), lc,
                    {name: float(np.mean(ys[mi])) for mi, name in enumerate(names)})
