"""Sanity checks that run before the analysis: each a named flag, so a user sees *why* a verdict
is missing or weak instead of a confident wrong answer.

Flags that block judging have severity "error" (the verdict becomes ``cannot_judge``); the others
are "warning" (the verdict stands, read it with care) or "info" (a fact about the log).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from judge_service.training.bundle import LogBundle
from judge_service.training.series import TRAIN_LOSS, Series

FEW_POINTS = 6  # below this a trend test has little power and the onset is poorly placed
COARSE_SHARE = 0.10  # an eval interval over 10 % of the run: the onset can only be bracketed
SCALE_RATIO = 3.0  # train loss logged ≥ 3× eval loss near the same steps
SPIKE_RATIO = 5.0  # first train loss ≥ 5× the median of the first tenth of the run
SIZE_CHANGE = 0.02  # runtime × samples/s is rounded; real logs jitter ~0.2 %, a changed set moves more
SMALL_EVAL_SET = 100

EVAL_ADVICE = ("log an eval loss: HF Trainer: eval_strategy='steps', eval_steps=N (about 1-2 % of max_steps) and "
               "an eval_dataset; LLaMA-Factory: val_size (or eval_dataset), eval_strategy: steps and eval_steps: N")


@dataclass(frozen=True)
class Flag:
    code: str
    severity: str  # "error" | "warning" | "info"
    message: str


def eval_series_names(bundle: LogBundle) -> list[str]:
    """Eval series (``eval_*``), losses first; throughput keys are never series."""
    names = [n for n, s in bundle.log.series.items() if n.startswith("eval_") and s.points]
    return sorted(names, key=lambda n: (not n.endswith("loss"), n))


def log_flags(bundle: LogBundle) -> list[Flag]:
    """Flags about the log as a whole (not one eval series)."""
    flags: list[Flag] = []
    log, meta = bundle.log, bundle.meta
    if log.duplicates or log.conflicting_duplicates:
        flags.append(Flag("duplicated_lines", "warning",
                          f"{log.duplicates} logged point(s) appear twice with the same value"
                          + (f" and {log.conflicting_duplicates} twice with different values (the later was kept)"
                             if log.conflicting_duplicates else "") + "; each was counted once"))
    if log.restarts:
        flags.append(Flag("restarts", "warning",
                          f"the log restarts {len(log.restarts)} time(s) (step goes back to {log.restarts}): a resumed "
                          f"run; the resumed segment's points replace {log.superseded_points} earlier one(s)"))
    for name, steps in log.non_finite.items():
        flags.append(Flag("non_finite_values", "warning",
                          f"{name} is NaN/inf at {len(steps)} step(s) (first at {steps[0]}); those points were left "
                          "out" + ("; a NaN loss means the run diverged there" if name.endswith("loss") else "")))
    train = log.series.get(TRAIN_LOSS)
    if train and len(train.points) >= 10:
        first_tenth = [p.value for p in train.points if p.step <= train.points[-1].step * 0.1] or train.values[:10]
        median = statistics.median(first_tenth)
        if median > 0 and train.values[0] >= SPIKE_RATIO * median:
            flags.append(Flag("start_up_spike", "info",
                              f"the first train loss ({train.values[0]:.4g}) is {train.values[0] / median:.1f}× the "
                              f"median of the first tenth of the run ({median:.4g}); the chart's scale leaves it out"))
    if meta.max_steps and meta.global_step and meta.global_step < meta.max_steps:
        flags.append(Flag("run_incomplete", "info",
                          f"the log stops at step {meta.global_step} of max_steps {meta.max_steps} "
                          f"({100 * meta.global_step / meta.max_steps:.0f}%): the verdict covers the logged part only"))
    elif meta.max_steps and train and train.points and train.points[-1].step < meta.max_steps and not meta.global_step:
        last = train.points[-1].step
        flags.append(Flag("run_incomplete", "info",
                          f"the log stops at step {last} of {meta.max_steps} ({100 * last / meta.max_steps:.1f}%), with "
                          "no closing summary: the run was cut off or is still going"))
    if meta.early_stopping:
        args = meta.early_stopping.get("args", {})
        flags.append(Flag("early_stopping_configured", "info",
                          f"the run used EarlyStoppingCallback {args}; the counterfactual table replays it"))
    return flags


def series_flags(bundle: LogBundle, metric: str, series: Series) -> list[Flag]:
    """Flags about the eval series the verdict rests on."""
    flags: list[Flag] = []
    n = len(series.points)
    if n < 3:
        flags.append(Flag("too_few_eval_points", "error",
                          f"{metric} has {n} finite point(s); at least 3 are needed to tell a trend from noise. "
                          + EVAL_ADVICE))
        return flags
    if n < FEW_POINTS:
        flags.append(Flag("too_few_eval_points", "warning",
                          f"{metric} has only {n} points: trend tests have little power and the onset is bracketed, "
                          "not placed; evaluate more often"))
    steps = series.steps
    gaps = [b - a for a, b in zip(steps, steps[1:])]
    interval = statistics.median(gaps)
    if steps[-1] > 0 and interval > COARSE_SHARE * steps[-1]:
        flags.append(Flag("coarse_eval_resolution", "warning",
                          f"{metric} is evaluated every {interval:g} steps, {100 * interval / steps[-1]:.0f}% of the run: "
                          "the onset can only be placed between two evaluations (see its interval)"))
    train = bundle.log.series.get(TRAIN_LOSS)
    if metric.endswith("loss") and train and train.points:
        window = [p.value for p in train.points if p.step >= 0.8 * steps[-1]]
        evals = [p.value for p in series.points if p.step >= 0.8 * steps[-1]]
        if window and evals and statistics.median(evals) > 0:
            ratio = statistics.median(window) / statistics.median(evals)
            if ratio >= SCALE_RATIO:
                flags.append(Flag("loss_scale_mismatch", "warning",
                                  f"the logged train loss is {ratio:.1f}× the eval loss over the last fifth of the run: "
                                  "the two are not on one scale (the gradient-accumulation loss-reporting bug family "
                                  "multiplies the logged train loss), so the train/eval gap means nothing here; "
                                  "the eval curve alone is judged"))
    eval_set = "eval" if metric.count("_") <= 1 else metric[len("eval_"):].rsplit("_", 1)[0]
    sizes = bundle.meta.eval_sizes.get(eval_set) or bundle.meta.eval_sizes.get("eval") or []
    if sizes:
        values = [s for _, s in sizes]
        low, high = min(values), max(values)
        if low > 0 and (high - low) / low > SIZE_CHANGE:
            flags.append(Flag("eval_set_size_changed", "warning",
                              f"the eval set size (eval_runtime × eval_samples_per_second) moves from {low:.0f} to "
                              f"{high:.0f} examples: points evaluated on different sets are not comparable"))
        if statistics.median(values) < SMALL_EVAL_SET:
            flags.append(Flag("small_eval_set", "info",
                              f"the eval set has about {statistics.median(values):.0f} examples: the curve is noisy, "
                              "and the noise band says how noisy"))
    return flags
