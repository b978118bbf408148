"""Length control side by side: the joint fit (judge_service.bias.joint) against AlpacaEval's
``length_controlled_noreg`` procedure on the same inputs, on AlpacaEval-format annotations.

Two sets, both against AlpacaEval 2's baseline gpt4_1106_preview on its 805 instructions:

* **real + synthetic**: the two real annotation files in ../shared/data/alpaca_eval (phi-2,
  phi-2-sft, judged by weighted_alpaca_eval_gpt4_turbo) and four synthetic checkpoints whose
  outputs are the baseline's answers made longer or shorter, with preferences drawn from a known
  GLM (so each has a true LC win rate);
* **one-sided synthetic**: the same four checkpoints where the candidate is shorter (or longer)
  than the baseline on nearly every item, the case where a single-pair GLM extrapolates.

AlpacaEval's noreg is reimplemented from its published procedure (alpaca_eval
``metrics/glm_winrate.py``: formula ``tanh(std_delta_len) + instruction_difficulty +
not_gamed_baseline - 1``, soft targets as duplicated rows weighted p and 1 − p, L1 logistic
regression via liblinear without a free intercept, C chosen by 5-fold GroupKFold on the
continuous log loss, then refit), with the instruction difficulty taken from the joint fit:
AlpacaEval's own precomputed difficulty is not in the shared data, so "the same inputs" means the
same annotations and the same difficulty. Printed: each model's raw win rate, the per-pair GLM
(judge_service.bias.length, AlpacaEval's ``length_controlled_minimal``), the joint fit, the noreg
reference, the truth (synthetic models) and the published LC (real models).

    python benchmarks/length_control_fits.py
"""

from __future__ import annotations

import json
import lzma
from pathlib import Path

import numpy as np
from scipy import special
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from judge_service.bias.joint import ModelInput, joint_length_control
from judge_service.bias.length import length_controlled_win_rate

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "alpaca_eval"
PUBLISHED_LC = {"phi-2": 4.398682270855682, "phi-2-sft": 5.853787690603355}
# synthetic checkpoints: (name, θ quality term, length ratio to the baseline, verbosity slope φ)
SYNTHETIC = (("ckpt-short", -0.6, 0.45, 0.9), ("ckpt-mid", 0.0, 0.9, 0.9), ("ckpt-long", 0.4, 1.6, 0.9),
             ("ckpt-verbose", 0.2, 2.4, 0.9))


def load(model: str) -> list[dict]:
    folder = DATA / "results" / model / "weighted_alpaca_eval_gpt4_turbo"
    path = folder / "annotations.json.xz"
    return json.load(lzma.open(path)) if path.exists() else json.loads((folder / "annotations.json").read_text())


def synthetic(baseline: dict[str, str], difficulty: dict[str, float], *, one_sided: bool,
              seed: int) -> dict[str, list[dict]]:
    """AlpacaEval-format annotations of checkpoints drawn from a known GLM; also their true LC."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, theta, ratio, phi in SYNTHETIC:
        rows = []
        spread = 0.15 if one_sided else 0.6
        for instruction, text in baseline.items():
            length = max(1, int(len(text) * ratio * rng.lognormal(0, spread)))
            rows.append({"instruction": instruction, "output_1": text, "output_2": "x" * length,
                         "generator_1": "gpt4_1106_preview", "generator_2": name, "_theta": theta, "_phi": phi})
        delta = np.array([len(r["output_2"]) - len(r["output_1"]) for r in rows], dtype=float)
        z = np.tanh(delta / delta.std(ddof=1))
        for r, zi in zip(rows, z):
            r["preference"] = 1 + float(special.expit(theta + phi * zi + difficulty[r["instruction"]]))
        out[name] = rows
    return out


def true_lc(rows: list[dict], difficulty: dict[str, float]) -> float:
    return float(np.mean([special.expit(r["_theta"] + difficulty[r["instruction"]]) for r in rows]))


def as_input(rows: list[dict]) -> ModelInput:
    return ModelInput([r["instruction"] for r in rows], [float(r["preference"]) - 1 for r in rows],
                      [len(r["output_2"]) - len(r["output_1"]) for r in rows])


def alpaca_noreg(rows: list[dict], difficulty: dict[str, float]) -> float:
    """AlpacaEval's length_controlled_noreg procedure (see the module docstring), in percent."""
    p = np.array([float(r["preference"]) - 1 for r in rows])
    delta = np.array([len(r["output_1"]) - len(r["output_2"]) for r in rows], dtype=float)  # baseline − model
    x = np.column_stack([np.tanh(delta / delta.std(ddof=1)), [difficulty[r["instruction"]] for r in rows],
                         np.ones(len(rows))])
    n = len(p)
    xx, yy, ww = np.vstack([x, x]), np.r_[np.ones(n), np.zeros(n)], np.r_[p, 1 - p]
    groups = np.r_[np.arange(n), np.arange(n)]

    def fit(c: float, idx: np.ndarray) -> LogisticRegression:
        model = LogisticRegression(C=c, l1_ratio=1.0, solver="liblinear", fit_intercept=False, random_state=123)
        return model.fit(xx[idx], yy[idx], sample_weight=ww[idx])

    def held_out_loss(model: LogisticRegression, idx: np.ndarray) -> float:
        q = np.clip(model.predict_proba(xx[idx])[:, 1], 1e-15, 1 - 1e-15)
        truth = np.where(yy[idx] == 1, ww[idx], 1 - ww[idx])
        return float(-np.mean(truth * np.log(q) + (1 - truth) * np.log(1 - q)))

    cs = np.logspace(-4, 4, 10)  # LogisticRegressionCV's default grid
    folds = list(GroupKFold(n_splits=5).split(xx, yy, groups))
    scores = [np.mean([held_out_loss(fit(c, tr), te) for tr, te in folds]) for c in cs]
    model = fit(float(cs[int(np.argmin(scores))]), np.arange(2 * n))
    test = x.copy()
    test[:, 0] = 0  # equal length
    return float(model.predict_proba(test)[:, 1].mean() * 100)


def pair_lc(rows: list[dict]) -> float:
    est = length_controlled_win_rate([float(r["preference"]) - 1 for r in rows], [r["output_2"] for r in rows],
                                     [r["output_1"] for r in rows], n_resamples=100, seed="bench")
    return float(est.controlled.estimate) * 100 if est.controlled.estimate is not None else float("nan")


def run(title: str, sets: dict[str, list[dict]], truth: dict[str, float]) -> list[float]:
    fit = joint_length_control({m: as_input(rows) for m, rows in sets.items()})
    print(f"\n{title}")
    print(f"{'model':14} {'win rate':>9} {'per-pair':>9} {'joint':>8} {'noreg':>8} {'|j-n|':>6} {'truth':>7} "
          f"{'published':>9}")
    gaps = []
    for m, rows in sets.items():
        noreg = alpaca_noreg(rows, fit.difficulty)
        joint = fit.length_controlled[m] * 100
        gaps.append(abs(joint - noreg))
        t = f"{truth[m] * 100:7.2f}" if m in truth else f"{'-':>7}"
        pub = f"{PUBLISHED_LC[m]:9.2f}" if m in PUBLISHED_LC else f"{'-':>9}"
        print(f"{m:14} {fit.win_rate[m] * 100:9.2f} {pair_lc(rows):9.2f} {joint:8.2f} {noreg:8.2f} "
              f"{abs(joint - noreg):6.2f} {t} {pub}")
    errors = [abs(fit.length_controlled[m] - truth[m]) * 100 for m in truth]
    print(f"joint vs noreg: max |difference| {max(gaps):.2f} points; joint vs truth (synthetic): mean |error| "
          f"{np.mean(errors):.2f}, max {max(errors):.2f} points")
    return gaps


def main() -> None:
    real = {m: load(m) for m in ("phi-2", "phi-2-sft")}
    baseline = {r["instruction"]: r["output_1"] for rows in real.values() for r in rows}
    rng = np.random.default_rng(0)
    difficulty = {i: float(rng.normal(0, 1.2)) for i in baseline}
    for one_sided, title in ((False, "real phi-2 / phi-2-sft + four synthetic checkpoints (mixed lengths)"),
                             (True, "four one-sided synthetic checkpoints (candidate shorter or longer on ~all items)")):
        syn = synthetic(baseline, difficulty, one_sided=one_sided, seed=1)
        truth = {m: true_lc(rows, difficulty) for m, rows in syn.items()}
        sets = ({} if one_sided else dict(real)) | syn
        run(title, sets, truth)


if __name__ == "__main__":
    main()
