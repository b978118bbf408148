"""Length probes side by side (issue 14 §3a): LC without probes, LC with probes, AlpacaEval-v1-style.

One-sided synthetic checkpoints against AlpacaEval 2's baseline answers (gpt4_1106_preview on its 805
instructions, from ../shared/data/alpaca_eval): each checkpoint's answers are the baseline's made
shorter or longer on nearly every item, and a verbosity-biased judge's preferences come from a known
model, so each checkpoint has a true LC win rate (its preference at equal length). Probes: 100 of the
baseline's answers, each rewritten to the checkpoint's length on that item and to the mirror ratio the
other way (as the service's rewriter is asked to, engine/rewrite.py), judged against the original by
the same judge (content unchanged, so only length moves the preference).

Two judges:

* ``glm``: the model the fits assume, as in benchmarks/length_control_fits.py:
  logit P = θ + φ·tanh(Δlen / sd) + d_i, with sd the checkpoint's sd of Δlen and d_i an instruction
  difficulty; on probe rows logit P = φ·tanh(Δlen / sd) (same content, no quality gap, no d_i);
* ``fixed``: the judge's taste for length is one function of Δlen for every checkpoint,
  φ·tanh(Δlen / 500 characters), so every GLM (on each checkpoint's own sd) is somewhat misspecified.

Each with and without instruction difficulty (d_i ~ N(0, 1.2) or 0). Figures per checkpoint: the
raw win rate, the per-pair LC without probes (judge_service.bias.length), with probes
(judge_service.bias.probes, with its 95% CI; and with the rewrite intercept fixed at 0), the joint fit without and with probes
(judge_service.bias.joint), AlpacaEval-v1-style, and the truth. "v1-style" reimplements AlpacaEval's
``length_controlled_v1`` procedure from its published description (alpaca_eval metrics/glm_winrate.py:
formula ``tanh(std_delta_len) + instruction_difficulty + not_gamed_baseline - 1``, the gamed rows
being the baseline's verbose/concise rewrites vs the baseline, L1 logistic regression with C chosen
by 5-fold GroupKFold, soft targets as weighted duplicated rows), with the instruction difficulty
known (the truth's, which favours it) and without its regularisation towards the baseline's
weights. Soft preferences are the model's probabilities (noise-free), so errors are bias; the
coverage lines repeat the ``glm``/no-difficulty case with two-order hard votes over 20 seeds.

    python benchmarks/length_probe_fits.py
"""

from __future__ import annotations

import json
import lzma
from pathlib import Path

import numpy as np
from scipy import special
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from judge_service.bias.joint import ModelInput, ProbeInput, joint_length_control
from judge_service.bias.length import length_controlled_win_rate
from judge_service.bias.probes import ProbeRow, probe_pinned_win_rate

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "alpaca_eval" / "results"
# (name, θ, length ratio to the baseline): one-sided, the candidate shorter or longer on ~all items
CHECKPOINTS = (("ckpt-short", -0.6, 0.45), ("ckpt-long", 0.4, 1.6), ("ckpt-verbose", 0.2, 2.4))
PHI = 0.9
N_PROBES = 100


def baseline_answers() -> dict[str, str]:
    rows = json.load(lzma.open(DATA / "phi-2" / "weighted_alpaca_eval_gpt4_turbo" / "annotations.json.xz"))
    return {r["instruction"]: r["output_1"] for r in rows}


def scenario(base: dict[str, str], *, judge: str, tau: float, seed: int, noisy: bool = False) -> dict:
    rng = np.random.default_rng(seed)
    instructions = list(base)
    base_len = np.array([len(base[i]) for i in instructions], dtype=float)
    difficulty = rng.normal(0, tau, len(instructions)) if tau > 0 else np.zeros(len(instructions))
    probe_at = rng.choice(len(instructions), N_PROBES, replace=False)
    out = {}
    for name, theta, ratio in CHECKPOINTS:
        cand_len = np.maximum(1, base_len * ratio * rng.lognormal(0, 0.15, len(instructions)))
        delta = cand_len - base_len
        # the rewriter aims at the candidate's length on the item and at the mirror ratio the other way
        # (engine/rewrite.py target_lengths), missing by ~10%
        b, c = base_len[probe_at], cand_len[probe_at]
        matched, mirrored = c * rng.lognormal(0, 0.1, N_PROBES), b * b / c * rng.lognormal(0, 0.1, N_PROBES)
        probe_len = {"verbose": matched, "concise": mirrored} if ratio > 1 else {"verbose": mirrored,
                                                                                 "concise": matched}
        scale = float(np.std(delta, ddof=1)) if judge == "glm" else 500.0

        def taste(d: np.ndarray) -> np.ndarray:
            return PHI * np.tanh(d / scale)

        p = special.expit(theta + taste(delta) + difficulty)
        y = (rng.random((p.size, 2)) < p[:, None]).mean(axis=1) if noisy else p
        probes = []
        for kind, lengths in probe_len.items():
            q = special.expit(taste(lengths - base_len[probe_at]))
            qs = (rng.random((q.size, 2)) < q[:, None]).mean(axis=1) if noisy else q
            probes += [ProbeRow(instructions[g], kind, float(v), "x" * int(L), base[instructions[g]])
                       for g, L, v in zip(probe_at, lengths, qs)]
        out[name] = {"y": y, "cand": ["x" * int(c) for c in cand_len], "probes": probes, "delta": delta,
                     "truth": float(np.mean(special.expit(theta + difficulty)))}
    return {"models": out, "instructions": instructions, "base": [base[i] for i in instructions],
            "difficulty": difficulty}


def v1_style(y: np.ndarray, delta: np.ndarray, difficulty: np.ndarray, probes: list[ProbeRow],
             index: dict[str, int]) -> float:
    """AlpacaEval's length_controlled_v1 procedure (module docstring), on these rows; a win rate in [0, 1]."""
    sd = float(np.std(delta, ddof=1))
    gamed_delta = np.array([len(p.rewrite_text) - len(p.original_text) for p in probes], dtype=float)
    # AlpacaEval's delta is baseline − model: the sign of its fitted slope flips, the fit does not change
    x = np.vstack([np.column_stack([np.tanh(-delta / sd), difficulty, np.ones(y.size)]),
                   np.column_stack([np.tanh(-gamed_delta / sd), [difficulty[index[p.group]] for p in probes],
                                    np.zeros(len(probes))])])
    p = np.concatenate([y, [r.preference for r in probes]])
    n = p.size
    xx, yy, ww = np.vstack([x, x]), np.r_[np.ones(n), np.zeros(n)], np.r_[p, 1 - p]
    groups = np.r_[np.arange(n), np.arange(n)]

    def fit(c: float, idx: np.ndarray) -> LogisticRegression:
        return LogisticRegression(C=c, l1_ratio=1.0, solver="liblinear", fit_intercept=False,
                                  random_state=123).fit(xx[idx], yy[idx], sample_weight=ww[idx])

    def held_out(model: LogisticRegression, idx: np.ndarray) -> float:
        q = np.clip(model.predict_proba(xx[idx])[:, 1], 1e-15, 1 - 1e-15)
        truth = np.where(yy[idx] == 1, ww[idx], 1 - ww[idx])
        return float(-np.mean(truth * np.log(q) + (1 - truth) * np.log(1 - q)))

    cs = np.logspace(-4, 4, 10)
    folds = list(GroupKFold(n_splits=5).split(xx, yy, groups))
    best = float(cs[int(np.argmin([np.mean([held_out(fit(c, tr), te) for tr, te in folds]) for c in cs]))])
    model = fit(best, np.arange(2 * n))
    test = x[:y.size].copy()
    test[:, 0] = 0.0
    return float(model.predict_proba(test)[:, 1].mean())


def figures(s: dict) -> dict[str, dict[str, float]]:
    models, base = s["models"], s["base"]
    index = {i: k for k, i in enumerate(s["instructions"])}
    inputs = {name: ModelInput(s["instructions"], list(m["y"]), list(m["delta"])) for name, m in models.items()}
    joint = joint_length_control(inputs)
    rows: dict[str, dict[str, float]] = {}
    for name, m in models.items():
        plain = length_controlled_win_rate(m["y"], m["cand"], base, n_resamples=100, seed="bench")
        pinned, _ = probe_pinned_win_rate(m["y"], m["cand"], base, m["probes"], n_resamples=400, seed="bench")
        probes = m["probes"]
        fixed_alpha, _ = probe_pinned_win_rate(m["y"], m["cand"], base, probes, n_resamples=200, seed="bench",
                                               free_rewrite_intercept=False)
        # one model's probes in the joint fit: each checkpoint's probe set is its own in this benchmark
        joint_probed = joint_length_control(
            {name: inputs[name]} | {o: inputs[o] for o in inputs if o != name},
            ProbeInput([p.group for p in probes], [p.preference for p in probes],
                       [len(p.rewrite_text) - len(p.original_text) for p in probes]))
        rows[name] = {"raw": float(np.mean(m["y"])), "pair": float(plain.controlled.estimate or np.nan),
                      "probes": float(pinned.controlled.estimate or np.nan),
                      "probes_lo": float(pinned.controlled.ci_low or np.nan),
                      "probes_hi": float(pinned.controlled.ci_high or np.nan),
                      "alpha0": float(fixed_alpha.controlled.estimate or np.nan),
                      "joint": joint.length_controlled[name], "joint_probes": joint_probed.length_controlled[name],
                      "v1": v1_style(m["y"], m["delta"], s["difficulty"], probes, index), "truth": m["truth"],
                      "longer_share": float(np.mean(m["delta"] > 0))}
    return rows


COLUMNS = (("raw", "raw"), ("pair", "LC no probes"), ("probes", "LC + probes"), ("alpha0", "probes, α = 0"),
           ("joint", "joint"),
           ("joint_probes", "joint + probes"), ("v1", "v1-style"))


def report(title: str, rows: dict[str, dict[str, float]]) -> None:
    print(f"\n{title}")
    print(f"{'checkpoint':13} {'longer':>6} " + " ".join(f"{label:>14}" for _, label in COLUMNS)
          + f" {'95% CI (LC + probes)':>21} {'truth':>7}")
    for name, r in rows.items():
        ci = f"[{100 * r['probes_lo']:.2f}, {100 * r['probes_hi']:.2f}]"
        print(f"{name:13} {r['longer_share']:6.2f} " + " ".join(f"{100 * r[key]:14.2f}" for key, _ in COLUMNS)
              + f" {ci:>21} {100 * r['truth']:7.2f}")
    line = "  mean |error| vs truth (points):"
    for key, label in COLUMNS[1:]:
        errors = [abs(r[key] - r["truth"]) * 100 for r in rows.values()]
        line += f" {label} {np.mean(errors):.2f} (max {max(errors):.2f});"
    covered = sum(r["probes_lo"] <= r["truth"] <= r["probes_hi"] for r in rows.values())
    print(line + f" LC + probes CI covers {covered}/{len(rows)}")


def coverage(base: dict[str, str], seeds: int = 20) -> None:
    errors, hits, plain = [], 0, []
    for seed in range(seeds):
        s = scenario(base, judge="glm", tau=0.0, seed=100 + seed, noisy=True)
        for m in s["models"].values():
            pinned, _ = probe_pinned_win_rate(m["y"], m["cand"], s["base"], m["probes"], n_resamples=400,
                                              seed=f"cov{seed}")
            est = pinned.controlled
            errors.append((est.estimate or np.nan) - m["truth"])
            hits += (est.ci_low or 0) <= m["truth"] <= (est.ci_high or 1)
            plain.append(length_controlled_win_rate(m["y"], m["cand"], s["base"], n_resamples=100,
                                                    seed="cov").controlled.estimate - m["truth"])
    n = len(errors)
    print(f"\nnoisy two-order votes, glm judge, no difficulty, {seeds} seeds x {len(CHECKPOINTS)} checkpoints: "
          f"LC + probes mean error {100 * np.mean(errors):+.2f} points (mean |error| {100 * np.mean(np.abs(errors)):.2f}),"
          f" 95% CI covers {hits}/{n}; LC without probes mean error {100 * np.mean(plain):+.2f} "
          f"(mean |error| {100 * np.mean(np.abs(plain)):.2f})")


def main() -> None:
    base = baseline_answers()
    for judge in ("glm", "fixed"):
        for tau in (0.0, 1.2):
            rows = figures(scenario(base, judge=judge, tau=tau, seed=1))
            report(f"judge '{judge}', instruction difficulty sd {tau} (805 items, {N_PROBES} probed answers)", rows)
    coverage(base)


if __name__ == "__main__":
    main()
