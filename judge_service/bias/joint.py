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

Targets are soft preferences in [0, 1] (ties 0.5), fitted by their Bernoulli log loss.

Length probes (``ProbeInput``, see ``judge_service.bias.probes``): rewrites of the baseline's answers
judged against the originals. They enter every model's block as rows
``logit = α_m + φ_m·tanh(Δlen / sd_m)`` (no difficulty term: the content is the baseline's own), so
each model's length slope is pinned by rows where only length differs.

Intervals (``joint_length_control_ci``): a cluster bootstrap over instructions (an instruction's rows
for every model move together, since they share its difficulty) and, with probes, over probe groups,
as multinomial weights on the rows; every resample refits the whole model from the point estimate
(Newton's method, ``_newton``). The length scale sd_m is held at the full sample's: it defines the
feature, it is not a parameter. Percentile intervals. Pure; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

from judge_service.errors import InvalidInput
from judge_service.stats.estimate import rng_from_seed

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
class ProbeInput:
    """Length probes shared by every model: rewrite − original length and P(rewrite preferred)."""

    groups: Sequence[str]  # the baseline answer each rewrite came from (resampled together)
    preference: Sequence[float]
    delta_len: Sequence[float]


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
    probes_used: int = 0  # probe rows per model (0: none)


@dataclass(frozen=True)
class _Design:
    names: tuple[str, ...]
    items: tuple[str, ...]
    mm: np.ndarray  # main rows: model index
    ii: np.ndarray  # main rows: item index
    y: np.ndarray
    x: np.ndarray
    pm: np.ndarray  # probe rows (one block per model): model index
    pg: np.ndarray  # probe rows: group index
    py: np.ndarray
    px: np.ndarray
    n_groups: int
    model_items: tuple[np.ndarray, ...]  # per model, its item indices

    @property
    def size(self) -> int:
        k = len(self.names)
        return (4 if self.py.size else 3) * k + len(self.items)


def _design(models: Mapping[str, ModelInput], probes: ProbeInput | None) -> _Design:
    if len(models) < 2:
        raise InvalidInput("a joint fit needs at least two candidates judged against the same baseline; with one, "
                           "use the per-run length-controlled win rate", field="models")
    names = tuple(models)
    items = tuple(dict.fromkeys(i for m in models.values() for i in m.items))
    index = {i: k for k, i in enumerate(items)}
    rows_m, rows_i, ys, xs, sds = [], [], [], [], []
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
        sds.append(sd)
        xs.append(np.tanh(d / sd) if sd > 0 else np.zeros_like(d))
        ys.append(y)
        rows_m.append(np.full(len(y), mi))
        rows_i.append(np.array([index[i] for i in m.items]))
    pm = pg = py = px = np.zeros(0)
    n_groups = 0
    if probes is not None:
        q = np.asarray(probes.preference, dtype=float)
        dp = np.asarray(probes.delta_len, dtype=float)
        if not (len(probes.groups) == q.size == dp.size) or q.size == 0:
            raise InvalidInput("probes: groups, preference and delta_len must be paired and non-empty", field="probes")
        if not np.all((q >= 0) & (q <= 1)):
            raise InvalidInput("probes: preferences must lie in [0, 1]", field="probes.preference")
        group_index = {g: k for k, g in enumerate(dict.fromkeys(probes.groups))}
        n_groups = len(group_index)
        g = np.array([group_index[x] for x in probes.groups])
        k = len(names)
        pm = np.repeat(np.arange(k), q.size)
        pg, py = np.tile(g, k), np.tile(q, k)
        px = np.concatenate([np.tanh(dp / sd) if sd > 0 else np.zeros_like(dp) for sd in sds])
    return _Design(names, items, np.concatenate(rows_m), np.concatenate(rows_i), np.concatenate(ys),
                   np.concatenate(xs), pm.astype(int), pg.astype(int), py, px, n_groups, tuple(rows_i))


def _fit(design: _Design, w: np.ndarray, pw: np.ndarray, start: np.ndarray, max_iter: int = 5000) -> np.ndarray:
    """Penalised weighted log loss minimised by L-BFGS; ``w``/``pw`` weight main/probe rows."""
    k, n = len(design.names), len(design.items)
    mm, ii, y, x = design.mm, design.ii, design.y, design.x
    pm, py, px = design.pm, design.py, design.px
    has_probes = py.size > 0

    def unpack(p: np.ndarray) -> tuple[np.ndarray, ...]:
        alpha = p[3 * k:4 * k] if has_probes else np.zeros(k)
        return p[:k], p[k:2 * k], p[2 * k:3 * k], alpha, p[(4 if has_probes else 3) * k:]

    def loss(p: np.ndarray) -> tuple[float, np.ndarray]:
        theta, phi, gamma, alpha, diff = unpack(p)
        eta = theta[mm] + phi[mm] * x + gamma[mm] * diff[ii]
        # Bernoulli log loss with soft targets: y·log σ(η) + (1 − y)·log σ(−η)
        value = float(np.sum(w * (np.logaddexp(0, eta) - y * eta)))
        r = w * (special.expit(eta) - y)
        g_theta = np.bincount(mm, r, k)
        g_phi = np.bincount(mm, r * x, k) + 2 * SLOPE_L2 * phi
        g_gamma = np.bincount(mm, r * diff[ii], k) + 2 * SENSITIVITY_L2 * (gamma - 1)
        g_diff = np.bincount(ii, r * gamma[mm], n) + 2 * DIFFICULTY_L2 * diff
        parts: list[np.ndarray] = [g_theta, g_phi, g_gamma]
        if has_probes:
            eta_p = alpha[pm] + phi[pm] * px
            value += float(np.sum(pw * (np.logaddexp(0, eta_p) - py * eta_p)))
            rp = pw * (special.expit(eta_p) - py)
            parts[1] = parts[1] + np.bincount(pm, rp * px, k)
            parts.append(np.bincount(pm, rp, k))
        value += SLOPE_L2 * float(phi @ phi) + SENSITIVITY_L2 * float((gamma - 1) @ (gamma - 1)) \
            + DIFFICULTY_L2 * float(diff @ diff)
        return value, np.concatenate([*parts, g_diff])

    res = optimize.minimize(loss, start, jac=True, method="L-BFGS-B", options={"maxiter": max_iter, "gtol": 1e-9})
    return np.asarray(res.x)


def _newton(design: _Design, w: np.ndarray, pw: np.ndarray, start: np.ndarray, max_iter: int = 50) -> np.ndarray:
    """The same optimum as ``_fit`` by Newton's method, fast enough for a bootstrap.

    The Hessian is sparse in a useful way: per model, the (θ, φ, γ, α) terms form a small block;
    each difficulty d_i meets only its own item's rows, so the d block is diagonal. Newton's system
    is solved through the Schur complement of that diagonal (a 4k × 4k solve, whatever n is). The
    bilinear γ·d term makes the exact Hessian indefinite far from the optimum; there the step uses
    its Gauss–Newton part (positive semi-definite). Backtracking keeps every step downhill.
    """
    k, n = len(design.names), len(design.items)
    mm, ii, y, x = design.mm, design.ii, design.y, design.x
    pm, py, px = design.pm, design.py, design.px
    has = py.size > 0
    q = (4 if has else 3) * k

    def value(p: np.ndarray) -> float:
        theta, phi, gamma, diff = p[:k], p[k:2 * k], p[2 * k:3 * k], p[q:]
        eta = theta[mm] + phi[mm] * x + gamma[mm] * diff[ii]
        v = float(np.sum(w * (np.logaddexp(0, eta) - y * eta)))
        if has:
            eta_p = p[3 * k:4 * k][pm] + phi[pm] * px
            v += float(np.sum(pw * (np.logaddexp(0, eta_p) - py * eta_p)))
        return v + SLOPE_L2 * float(phi @ phi) + SENSITIVITY_L2 * float((gamma - 1) @ (gamma - 1)) \
            + DIFFICULTY_L2 * float(diff @ diff)

    p = start.copy()
    current = value(p)
    for _ in range(max_iter):
        theta, phi, gamma, diff = p[:k], p[k:2 * k], p[2 * k:3 * k], p[q:]
        eta = theta[mm] + phi[mm] * x + gamma[mm] * diff[ii]
        mu = special.expit(eta)
        r, h = w * (mu - y), w * mu * (1 - mu)
        di = diff[ii]
        # per main row, d eta / d(θ_m, φ_m, γ_m): columns 0, 1, 2 of the model's block
        jac = np.column_stack([np.ones_like(x), x, di])
        g_u = np.zeros((k, 4))
        for c in range(3):
            g_u[:, c] = np.bincount(mm, r * jac[:, c], k)
        g_u[:, 1] += 2 * SLOPE_L2 * phi
        g_u[:, 2] += 2 * SENSITIVITY_L2 * (gamma - 1)
        g_d = np.bincount(ii, r * gamma[mm], n) + 2 * DIFFICULTY_L2 * diff
        blocks = np.zeros((k, 4, 4))
        for a in range(3):
            for b in range(a, 3):
                blocks[:, a, b] = blocks[:, b, a] = np.bincount(mm, h * jac[:, a] * jac[:, b], k)
        blocks[:, 1, 1] += 2 * SLOPE_L2
        blocks[:, 2, 2] += 2 * SENSITIVITY_L2
        if has:
            alpha = p[3 * k:4 * k]
            mu_p = special.expit(alpha[pm] + phi[pm] * px)
            r_p, h_p = pw * (mu_p - py), pw * mu_p * (1 - mu_p)
            g_u[:, 1] += np.bincount(pm, r_p * px, k)
            g_u[:, 3] = np.bincount(pm, r_p, k)
            blocks[:, 3, 3] = np.bincount(pm, h_p, k) + 1e-12
            blocks[:, 1, 3] = blocks[:, 3, 1] = np.bincount(pm, h_p * px, k)
            blocks[:, 1, 1] += np.bincount(pm, h_p * px * px, k)
        else:
            blocks[:, 3, 3] = 1.0  # an unused slot: identity keeps the block solvable
        D = np.bincount(ii, h * gamma[mm] ** 2, n) + 2 * DIFFICULTY_L2
        cols = (4 if has else 3)
        A = np.zeros((4 * k, 4 * k))
        for mi in range(k):
            A[4 * mi:4 * mi + 4, 4 * mi:4 * mi + 4] = blocks[mi]
        grad_u = g_u.reshape(-1)

        def coupling(second_order: bool) -> np.ndarray:
            B = np.zeros((4 * k, n))
            for c in range(3):
                vals = h * jac[:, c] * gamma[mm]
                if c == 2 and second_order:
                    vals = vals + r  # d²η / dγ_m dd_i = 1
                np.add.at(B, (4 * mm + c, ii), vals)
            return B

        step = None
        for second_order in (True, False):
            B = coupling(second_order)
            S = A - (B / D) @ B.T
            try:
                chol = np.linalg.cholesky(S)
            except np.linalg.LinAlgError:
                continue
            rhs = grad_u - B @ (g_d / D)
            du = np.linalg.solve(chol.T, np.linalg.solve(chol, rhs))
            dd = (g_d - B.T @ du) / D
            # the blocks are model-major (θ_m, φ_m, γ_m, α_m); p is type-major (all θ, all φ, ...)
            step = np.concatenate([du.reshape(k, 4)[:, :cols].T.reshape(-1), dd])
            break
        if step is None:
            break
        slope = float(np.concatenate([g_u[:, :cols].T.reshape(-1), g_d]) @ step)
        t = 1.0
        while t > 1e-6:
            trial = p - t * step
            v = value(trial)
            if v <= current - 1e-4 * t * slope:
                break
            t /= 2
        else:
            break
        p, current = trial, v
        if np.max(np.abs(t * step)) < 1e-9:
            break
    return p


def _point(design: _Design) -> np.ndarray:
    """L-BFGS from the neutral start (robust far from the optimum), polished by Newton."""
    w, pw = np.ones(design.y.size), np.ones(design.py.size)
    return _newton(design, w, pw, _fit(design, w, pw, _start(design)))


def _start(design: _Design) -> np.ndarray:
    k, n = len(design.names), len(design.items)
    return np.concatenate([np.zeros(2 * k), np.ones(k), np.zeros(k if design.py.size else 0), np.zeros(n)])


def _controlled(design: _Design, p: np.ndarray, item_w: np.ndarray) -> np.ndarray:
    """Per model, the item-weighted mean of σ(θ_m + γ_m·d_i), with d centred by the same weights."""
    k = len(design.names)
    theta, gamma = p[:k], p[2 * k:3 * k]
    diff = p[(4 if design.py.size else 3) * k:]
    out = np.empty(k)
    for mi, rows in enumerate(design.model_items):
        wts = item_w[rows]
        out[mi] = np.sum(wts * special.expit(theta[mi] + gamma[mi] * diff[rows])) / np.sum(wts)
    return out


def joint_length_control(models: Mapping[str, ModelInput], probes: ProbeInput | None = None) -> JointFit:
    """Fit the joint GLM; every model must share items with the others (the difficulty is common)."""
    design = _design(models, probes)
    k = len(design.names)
    p = _point(design)
    theta, phi, gamma = p[:k], p[k:2 * k], p[2 * k:3 * k]
    diff = p[(4 if design.py.size else 3) * k:]
    centre = float(diff.mean())  # d has mean 0: the shift moves into each model's intercept
    diff = diff - centre
    theta = theta + gamma * centre
    lc = _controlled(design, p, np.ones(len(design.items)))
    names, items = design.names, design.items
    wins = {name: float(np.mean(design.y[design.mm == mi])) for mi, name in enumerate(names)}
    return JointFit(names, items, dict(zip(names, map(float, theta))), dict(zip(names, map(float, phi))),
                    dict(zip(names, map(float, gamma))), dict(zip(items, map(float, diff))),
                    dict(zip(names, map(float, lc))), wins, int(design.py.size // k))


@dataclass(frozen=True)
class JointInterval:
    low: dict[str, float]
    high: dict[str, float]
    n_resamples: int
    confidence: float


def joint_length_control_ci(models: Mapping[str, ModelInput], probes: ProbeInput | None = None, *,
                            confidence: float = 0.95, n_resamples: int = 200, seed: str) -> JointInterval:
    """Percentile intervals of each model's joint LC win rate (cluster bootstrap; module docstring)."""
    if not 0 < confidence < 1:
        raise InvalidInput("confidence must lie strictly between 0 and 1, e.g. 0.95", field="confidence")
    if n_resamples < 20:
        raise InvalidInput("n_resamples must be at least 20 for an interval (200 is the default)",
                           field="n_resamples")
    design = _design(models, probes)
    n = len(design.items)
    point = _point(design)
    rng = rng_from_seed(f"{seed}/joint")
    draws = np.empty((n_resamples, len(design.names)))
    for b in range(n_resamples):
        item_w = rng.multinomial(n, np.full(n, 1 / n)).astype(float)
        group_w = rng.multinomial(design.n_groups, np.full(design.n_groups, 1 / design.n_groups)).astype(float) \
            if design.n_groups else np.zeros(0)
        # the point estimate is a good start: a resample's optimum is near it, so few iterations are needed
        p = _newton(design, item_w[design.ii], group_w[design.pg] if design.n_groups else np.zeros(0), point)
        draws[b] = _controlled(design, p, item_w)
    a = 1 - confidence
    low, high = np.quantile(draws, [a / 2, 1 - a / 2], axis=0)
    return JointInterval(dict(zip(design.names, map(float, low))), dict(zip(design.names, map(float, high))),
                         n_resamples, confidence)
