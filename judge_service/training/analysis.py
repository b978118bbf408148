"""Whether and when overfitting began, from one eval series and the train loss beside it.

Pure functions over a ``TrainingLog``. The choices, and why:
- **Noise from the curve itself.** A fixed threshold (HF's ``early_stopping_threshold``) means
  different things on different losses. The eval curve's own noise is estimated from its second
  differences, which cancel a locally linear trend: for white noise of sd σ on a smooth curve,
  ``v[i+1] − 2v[i] + v[i−1]`` has sd σ√6, and the MAD (× 1.4826) makes the estimate robust to the
  curve's own bends. A floor of 0.1% of the curve's level stands for the precision losses are
  logged with.
- **A band, not a point.** Two evaluations differ by noise alone with sd σ√2, so every checkpoint
  within 1.96·σ·√2 of the best is *equivalent* to it; the earliest is the cheapest to keep.
- **Onset only when the rise is sustained.** After the best, the rise must exceed the band *and* a
  one-sided Kendall trend test over the post-best segment must be significant (p < 0.05), with the
  train loss still falling over that window (the textbook signature of memorisation). A rise
  beyond the band that is too short to test is ``possible_overfitting``; a single bump that comes
  back is no overfitting at all.
- **Diverging is not overfitting.** When the train loss rises too (or turns non-finite), the run
  is unstable: lower the learning rate, do not stop early.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy import stats

from judge_service.training import early_stopping
from judge_service.training.series import Series, TrainingLog

Verdict = Literal["overfitting", "possible_overfitting", "plateau", "no_overfitting", "diverging", "cannot_judge"]
Z = 1.96
MIN_EVALS = 3
_LOWER_IS_BETTER = ("loss", "wer", "cer", "perplexity", "ppl", "error")


@dataclass(frozen=True)
class Flag:
    code: str
    message: str
    advice: str | None = None


@dataclass(frozen=True)
class Checkpoint:
    step: int
    epoch: float | None
    value: float


@dataclass(frozen=True)
class Onset:
    step: int  # where the curve turned (the minimum of its 3-point moving average)
    interval: tuple[int, int]  # the rise began between these two evaluations
    epoch: float | None
    kendall_tau: float | None
    p_value: float | None


@dataclass(frozen=True)
class ExternalNote:
    name: str
    best_step: int
    agrees_with_loss: bool
    message: str


@dataclass
class CurveAnalysis:
    metric: str
    greater_is_better: bool
    verdict: Verdict
    reason: str
    advice: str | None
    n_eval: int
    noise: float | None = None
    band_width: float | None = None
    best: Checkpoint | None = None
    earliest_equivalent: Checkpoint | None = None
    equivalent_steps: list[int] = field(default_factory=list)
    last: Checkpoint | None = None
    rise: float | None = None  # last − best, in the direction of "worse"
    onset: Onset | None = None
    train_falling_after_best: bool | None = None
    wasted_fraction: float | None = None  # share of steps after the earliest equivalent checkpoint
    early_stopping: list[early_stopping.StopOutcome] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)
    external: list[ExternalNote] = field(default_factory=list)
    eval_series: list[str] = field(default_factory=list)


def lower_is_better(metric: str) -> bool:
    return any(tag in metric.lower() for tag in _LOWER_IS_BETTER)


def robust_noise(values: np.ndarray) -> float:
    level = float(np.median(np.abs(values))) if values.size else 0.0
    floor = 1e-3 * level
    if values.size < 4:
        return floor
    d2 = values[2:] - 2 * values[1:-1] + values[:-2]
    mad = float(np.median(np.abs(d2 - np.median(d2))))
    return max(1.4826 * mad / math.sqrt(6), floor)


def _kendall_up(steps: np.ndarray, values: np.ndarray) -> tuple[float, float]:
    """One-sided Kendall test that ``values`` rise with ``steps`` (exact p for small n)."""
    result = stats.kendalltau(steps, values, alternative="greater")
    return float(result.statistic), float(result.pvalue)


def _flags(log: TrainingLog, eval_s: Series | None, train: Series | None) -> list[Flag]:
    flags: list[Flag] = []
    if log.duplicates:
        flags.append(Flag("duplicated_lines", f"{log.duplicates} entries were logged twice for the same step and "
                          "counted once"))
    if log.restarts:
        flags.append(Flag("restarts", f"the step counter went back at step(s) {log.restarts[:5]}: the run was resumed "
                          "or restarted; the series are merged by step", "check that the resumed run used the same "
                          "data and schedule"))
    if log.non_finite:
        names = sorted({n for n, _ in log.non_finite})
        flags.append(Flag("non_finite", f"{len(log.non_finite)} non-finite value(s) in {names}",
                          "a NaN loss usually means a too-high learning rate or fp16 overflow"))
    if eval_s is not None and 0 < len(eval_s.points) < 5:
        flags.append(Flag("too_few_eval_points", f"only {len(eval_s.points)} evaluations: a trend cannot be tested "
                          "reliably", "evaluate more often (eval_strategy='steps', a smaller eval_steps)"))
    elif eval_s is not None and len(eval_s.points) < 10:
        flags.append(Flag("coarse_eval_resolution", f"{len(eval_s.points)} evaluations: the onset is known only "
                          "to within one eval interval", "a smaller eval_steps narrows it"))
    if train is not None and eval_s is not None and train.points and eval_s.points:
        tail = [p.value for p in train.points if p.step >= eval_s.points[-1].step * 0.8] or [train.points[-1].value]
        ratio = float(np.median(tail)) / eval_s.points[-1].value if eval_s.points[-1].value > 0 else math.nan
        if ratio > 3:
            flags.append(Flag("loss_scale_mismatch", f"the logged train loss is {ratio:.1f}× the eval loss at the end: "
                              "train and eval losses are probably not on one scale (the gradient-accumulation "
                              "loss-reporting bug family), so the train/eval gap means nothing",
                              "upgrade transformers, or compare eval curves only"))
    if train is not None and len(train.points) >= 10:
        v = np.array(train.values)
        head = v[: max(3, len(v) // 10)]
        for i in range(1, head.size - 1):
            if head[i] > 2 * max(head[i - 1], head[i + 1]):
                flags.append(Flag("startup_spike", f"a start-up spike in train loss at step {train.points[i].step}",
                                  "a warm-up phase usually removes it"))
                break
    if len(log.eval_sizes) >= 2:
        sizes = np.array([s for _, s in log.eval_sizes])
        if sizes.min() > 0 and sizes.max() / sizes.min() > 1.05:
            flags.append(Flag("eval_set_size_changed", f"the eval set size (eval_runtime × eval_samples_per_second) "
                              f"ranges from {sizes.min():.0f} to {sizes.max():.0f}: evaluations may not be comparable",
                              "keep one fixed, versioned eval set"))
    return flags


def pick_eval_series(log: TrainingLog, metric: str | None, eval_set: str | None) -> str | None:
    if metric is None:
        metric = f"eval_{eval_set}_loss" if eval_set else "eval_loss"
    if metric in log.series:
        return metric
    return None


def analyse(log: TrainingLog, *, metric: str | None = None, eval_set: str | None = None,
            greater_is_better: bool | None = None,
            external: Mapping[str, Mapping[int, float]] | None = None) -> CurveAnalysis:
    name = pick_eval_series(log, metric, eval_set)
    evals = sorted(s for s in log.series if s.startswith("eval_"))
    wanted = metric or (f"eval_{eval_set}_loss" if eval_set else "eval_loss")
    gib = (not lower_is_better(wanted)) if greater_is_better is None else greater_is_better
    train = log.series.get("train_loss")
    eval_s = log.series.get(name) if name else None
    flags = _flags(log, eval_s, train)
    advice: str | None
    if eval_s is None or len(eval_s.points) < MIN_EVALS:
        if eval_s is None and evals:
            reason = f"no '{wanted}' series; this log has {evals}"
            advice = "choose one with --metric (or --eval-set for eval_<name>_loss)"
        elif eval_s is None:
            reason = "the log has no evaluation series (no eval_loss): overfitting cannot be seen from train loss alone"
            advice = "set eval_strategy='steps' (or 'epoch') with eval_steps, and an eval_dataset, then train again"
        else:
            reason = f"only {len(eval_s.points)} evaluation(s) of '{wanted}'; at least {MIN_EVALS} are needed"
            advice = "evaluate more often (a smaller eval_steps)"
        if eval_s is None:
            flags.append(Flag("no_eval_series", reason, advice))
        return CurveAnalysis(wanted, gib, "cannot_judge", reason, advice, len(eval_s.points) if eval_s else 0,
                             flags=flags, eval_series=evals)

    steps = np.array(eval_s.steps)
    raw = np.array(eval_s.values)
    worse = -raw if gib else raw  # work in "lower is better" units
    noise = robust_noise(worse)
    band = Z * noise * math.sqrt(2)
    i_best = int(np.argmin(worse))
    best_val = worse[i_best]
    equivalent = [int(steps[i]) for i in range(len(steps)) if worse[i] <= best_val + band]
    i_early = int(np.nonzero(worse <= best_val + band)[0][0])
    pts = eval_s.points
    best = Checkpoint(pts[i_best].step, pts[i_best].epoch, pts[i_best].value)
    early = Checkpoint(pts[i_early].step, pts[i_early].epoch, pts[i_early].value)
    last = Checkpoint(pts[-1].step, pts[-1].epoch, pts[-1].value)
    rise = float(worse[-1] - best_val)
    wasted = float((steps[-1] - steps[i_early]) / steps[-1]) if steps[-1] > 0 else 0.0

    train_falling: bool | None = None
    if train is not None:
        window = [p for p in train.points if p.step >= best.step]
        if len(window) >= 3:
            train_tau, _ = _kendall_up(np.array([p.step for p in window]), np.array([p.value for p in window]))
            train_falling = train_tau < 0
    train_rising_late = False
    if train is not None and len(train.points) >= 6:
        half = train.points[len(train.points) // 2:]
        tau_t, p_t = _kendall_up(np.array([p.step for p in half]), np.array([p.value for p in half]))
        train_rising_late = tau_t > 0 and p_t < 0.01 and half[-1].value > 1.5 * min(p.value for p in half)

    onset: Onset | None = None
    tau: float | None = None
    p_trend: float | None = None
    post = slice(i_best, len(steps))
    # The best of many noisy evaluations is biased low (it is a minimum), so one late point above the
    # band is expected by chance on a flat tail: the last two evaluations must both be beyond it.
    risen = rise > band and len(steps) - i_best >= 3 and bool(np.all(worse[-2:] > best_val + band))
    if risen:
        if len(steps) - i_best >= 4:
            tau, p_trend = _kendall_up(steps[post], worse[post])
        # Where the curve turned: the minimum of a 3-point moving average, which locates the turn
        # better than the single noisiest-low evaluation (the best checkpoint stays the raw minimum,
        # since that is the checkpoint a user can pick).
        i_turn = i_best
        if len(worse) >= 5 and i_best > 0:  # a best at the first evaluation: it turned at (or before) it
            smooth = np.convolve(worse, np.ones(3) / 3, mode="valid")
            i_turn = min(int(np.argmin(smooth)) + 1, len(worse) - 2)
        onset = Onset(int(steps[i_turn]), (int(steps[i_turn]), int(steps[i_turn + 1])), pts[i_turn].epoch, tau, p_trend)

    if any(f.code == "non_finite" for f in flags) or (train_rising_late and rise > band):
        verdict: Verdict = "diverging"
        reason = ("the train loss rises too" if train_rising_late else "losses became non-finite") + \
                 ": the run is unstable, not overfitting"
        advice = "lower the learning rate (or enable gradient clipping); early stopping will not fix instability"
    elif onset is not None and p_trend is not None and p_trend < 0.05 and train_falling is not False:
        verdict = "overfitting"
        reason = (f"{wanted} rose by {rise:.4g} after its best at step {best.step} (noise band ±{band:.3g}; Kendall "
                  f"tau {tau:.2f}, p = {p_trend:.3g}) while the train loss kept falling")
        advice = _advice(early, best, last, "overfitting")
    elif onset is not None:
        verdict = "possible_overfitting"
        why = ("too few evaluations after the best for a trend test" if p_trend is None else
               f"the rise is not a significant trend (Kendall p = {p_trend:.3g})" if p_trend >= 0.05 else
               "the train loss is not falling over the same window")
        reason = f"{wanted} ended {rise:.4g} above its best at step {best.step}, beyond the noise band ±{band:.3g}, but {why}"
        advice = _advice(early, best, last, "possible")
    elif i_best < len(steps) - 1 and wasted >= 0.25:
        verdict = "plateau"
        reason = (f"{wanted} has been within noise (±{band:.3g}) of its best since step {early.step}: "
                  f"{wasted:.0%} of the steps bought nothing measurable")
        advice = _advice(early, best, last, "plateau")
    else:
        verdict = "no_overfitting"
        reason = f"{wanted} is at (or within noise of) its best at the last evaluation, step {last.step}"
        advice = None if wasted < 0.25 else _advice(early, best, last, "plateau")

    if i_best == 0 and len(steps) > 1:
        flags.append(Flag("best_at_first_eval", f"the best {wanted} is at the first evaluation (step {best.step}): "
                          "the curve may have turned before it", "evaluate earlier and more often"))
    hf_best = log.meta.get("best_model_checkpoint")
    if isinstance(hf_best, str) and "checkpoint-" in hf_best:
        hf_step = int(hf_best.rsplit("checkpoint-", 1)[1].split("/")[0])
        if hf_step not in equivalent:
            flags.append(Flag("hf_best_differs", f"the Trainer's best_model_checkpoint is step {hf_step} "
                              f"(chosen by metric_for_best_model, best_metric {log.meta.get('best_metric')}), which "
                              f"is not within noise of the best {wanted} at step {best.step}"))
    notes = _external(external or {}, best, equivalent, risen)
    outcomes = early_stopping.grid([int(s) for s in steps], [float(v) for v in raw], greater_is_better=gib)
    return CurveAnalysis(wanted, gib, verdict, reason, advice, len(steps), noise=float(noise), band_width=float(band),
                         best=best, earliest_equivalent=early, equivalent_steps=equivalent, last=last, rise=rise,
                         onset=onset, train_falling_after_best=train_falling, wasted_fraction=wasted,
                         early_stopping=outcomes, flags=flags, external=notes, eval_series=evals)


def _advice(early: Checkpoint, best: Checkpoint, last: Checkpoint, kind: str) -> str:
    epoch = f" (epoch {early.epoch:.2f})" if early.epoch is not None else ""
    after = ("did not improve the eval metric measurably" if kind == "plateau"
             else "made the eval metric worse")
    text = (f"use the checkpoint saved at or just after step {early.step}{epoch}, the earliest within noise of the best "
            f"(step {best.step}); the {last.step - early.step} steps after it {after}")
    if early.epoch is not None and early.epoch > 0:
        text += (f". Or re-run with about {math.ceil(early.epoch)} epoch(s); note that a shorter run changes the "
                 "learning-rate schedule (a decay reaches zero sooner), so its curve will not match this run's "
                 "first epochs")
    return text


def _external(external: Mapping[str, Mapping[int, float]], best: Checkpoint, equivalent: list[int],
              loss_rose: bool) -> list[ExternalNote]:
    """Per-checkpoint figures (judge win rates, benchmark scores: higher is better) beside the loss.

    They agree when the figure's best checkpoint is one the loss calls equivalent to its best.
    """
    notes = []
    for name, by_step in external.items():
        if not by_step:
            continue
        ext_best = max(by_step, key=lambda s: by_step[s])
        agrees = ext_best in equivalent
        if agrees:
            message = f"{name} is best at step {ext_best}, within noise of the loss's best (step {best.step})"
        else:
            message = (f"{name} is best at step {ext_best}, where the loss is measurably worse than at its best "
                       f"(step {best.step}{', after which it rose' if loss_rose else ''}): they disagree. Eval loss "
                       "is not what users see (InstructGPT saw preference improve while validation loss rose): "
                       "judge these checkpoints on outputs before choosing")
        notes.append(ExternalNote(name, ext_best, agrees, message))
    return notes
