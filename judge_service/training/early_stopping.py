"""Counterfactual early stopping: where HF's ``EarlyStoppingCallback`` would have stopped this run.

HF semantics, replayed exactly (transformers ``trainer_callback.py`` and ``Trainer``):
- at each evaluation the callback compares the metric with ``state.best_metric`` *as it was before
  this evaluation* (the Trainer updates ``best_metric`` after the callbacks' ``on_evaluate``);
- the patience counter resets to 0 only when the value is strictly better than ``best_metric``
  *and* ``abs(value - best_metric) > early_stopping_threshold`` (an absolute threshold); any other
  evaluation, a smaller improvement included, adds 1;
- ``best_metric`` itself moves on *any* strict improvement, however small (the Trainer's rule for
  ``load_best_model_at_end``), so a string of tiny improvements keeps the counter growing while
  the reference keeps moving;
- training stops after the evaluation at which the counter reaches ``early_stopping_patience``,
  and ``load_best_model_at_end`` restores the checkpoint of ``best_metric``.
The replay assumes a checkpoint is saved at every evaluation (HF requires save and eval strategies
to match for ``load_best_model_at_end``). Evaluations after the stop are the run's own, so "what it
would have cost" compares the restored checkpoint with the best of the whole logged run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class StopOutcome:
    patience: int
    threshold: float
    stopped_at_step: int | None  # None: the rule never fired, the run went to its end
    restored_step: int  # the checkpoint load_best_model_at_end would give
    restored_value: float
    regret: float  # restored value − best of the whole run, in badness units (≥ 0)
    steps_saved: int
    missed_best: bool  # restored checkpoint is not the run's best and outside its noise band


def replay_hf(values: Sequence[float], *, patience: int, threshold: float = 0.0,
              greater_is_better: bool = False) -> tuple[int | None, int]:
    """(index of the evaluation after which training stops or None, index of the restored best)."""
    if patience < 1:
        raise ValueError("early_stopping_patience must be at least one (as in HF)")
    if threshold < 0:
        raise ValueError("early_stopping_threshold cannot be negative (as in HF)")
    best_value: float | None = None
    best_index = 0
    counter = 0
    for i, value in enumerate(values):
        better = best_value is not None and (value > best_value if greater_is_better else value < best_value)
        # EarlyStoppingCallback.check_metric_value, against best_metric before this evaluation
        if best_value is None or (better and abs(value - best_value) > threshold):
            counter = 0
        else:
            counter += 1
        # Trainer._determine_best_metric: any strict improvement moves best_metric
        if best_value is None or better:
            best_value, best_index = value, i
        if counter >= patience:
            return i, best_index
    return None, best_index


def counterfactual_grid(steps: Sequence[int], values: Sequence[float], *, greater_is_better: bool, band: float,
                        patiences: Sequence[int] = (1, 2, 3, 5, 10),
                        thresholds: Sequence[float] = (0.0, 0.001, 0.01)) -> list[StopOutcome]:
    sign = -1.0 if greater_is_better else 1.0
    badness = [sign * v for v in values]
    run_best = min(badness)
    out: list[StopOutcome] = []
    for threshold in thresholds:
        for patience in patiences:
            stop, restored = replay_hf(values, patience=patience, threshold=threshold,
                                       greater_is_better=greater_is_better)
            regret = badness[restored] - run_best
            out.append(StopOutcome(
                patience=patience, threshold=threshold,
                stopped_at_step=None if stop is None else steps[stop],
                restored_step=steps[restored], restored_value=values[restored], regret=regret,
                steps_saved=0 if stop is None else steps[-1] - steps[stop],
                missed_best=regret > band))
    return out


@dataclass(frozen=True)
class EpochAdvice:
    best_epoch: float | None
    earliest_equivalent_epoch: float | None
    wasted_fraction: float  # share of the logged steps after the earliest equivalent checkpoint
    use_checkpoint: str  # "checkpoint-N"
    rerun_epochs: int | None
    advice: str
    lr_caveat: str | None


def epoch_advice(*, earliest_step: int, earliest_epoch: float | None, best_epoch: float | None, last_step: int,
                 verdict: str, lr_steps: Sequence[int] = (), lr_values: Sequence[float] = ()) -> EpochAdvice:
    wasted = max(0.0, (last_step - earliest_step) / last_step) if last_step > 0 else 0.0
    checkpoint = f"checkpoint-{earliest_step}"
    rerun = math.ceil(earliest_epoch) if earliest_epoch is not None and earliest_epoch > 0 else None
    if verdict in ("overfitting", "possible_overfitting", "plateau"):
        advice = (f"use {checkpoint} (the earliest checkpoint equivalent to the best, if it was saved), or re-run with "
                  + (f"{rerun} epoch(s)" if rerun else f"max_steps={earliest_step}")
                  + f": {100 * wasted:.0f}% of the logged steps came after it")
    elif verdict == "no_overfitting":
        advice = "keep the last checkpoint; the curve gives no reason to stop earlier (it may gain from more steps)"
    else:
        advice = "no epoch advice: fix what the verdict names first"
    caveat = None
    decays = [v for s, v in zip(lr_steps, lr_values) if v > 0]
    if len(decays) >= 2 and decays[-1] < 0.9 * max(decays):
        at = [v for s, v in zip(lr_steps, lr_values) if s <= earliest_step]
        share = (at[-1] / max(decays)) if at else None
        caveat = ("the learning rate decays over this run" + (f" (at the chosen step it was {100 * share:.0f}% of its peak)"
                  if share is not None else "") + ": a shorter re-run decays it sooner, so its curve is not this curve cut "
                  "short and its best may land elsewhere; the saved checkpoint is the safer choice")
    return EpochAdvice(best_epoch, earliest_epoch, wasted, checkpoint, rerun, advice, caveat)
