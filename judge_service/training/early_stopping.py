"""Counterfactual early stopping: where Hugging Face's ``EarlyStoppingCallback`` would have stopped.

Semantics replayed exactly (transformers ``trainer_callback.EarlyStoppingCallback.check_metric_value``
and the Trainer's best-metric update): at each evaluation the metric is compared with the best seen
*before* it; the patience counter resets to 0 when ``operator(metric, best)`` holds and
``abs(metric - best) > threshold`` (so an improvement smaller than the threshold still counts as no
improvement), and otherwise increments; training stops once the counter reaches ``patience``. The
Trainer updates ``best_metric`` whenever ``operator(metric, best)`` holds, threshold or not, and
``load_best_model_at_end`` returns that checkpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class StopOutcome:
    patience: int
    threshold: float
    stopped_at_step: int | None  # None: would have run to the end
    chosen_step: int  # the best checkpoint when it stopped (load_best_model_at_end)
    chosen_value: float
    regret: float  # chosen − true best, in the metric's units (≥ 0 means worse, for lower-is-better)
    steps_saved: int


def replay(steps: Sequence[int], values: Sequence[float], *, patience: int, threshold: float = 0.0,
           greater_is_better: bool = False) -> StopOutcome:
    if len(steps) != len(values) or not steps:
        raise ValueError("steps and values must be non-empty and aligned")

    def better(a: float, b: float) -> bool:
        return a > b if greater_is_better else a < b

    best: float | None = None
    best_step = steps[0]
    counter = 0
    stopped: int | None = None
    for step, value in zip(steps, values):
        if best is None or (better(value, best) and abs(value - best) > threshold):
            counter = 0
        else:
            counter += 1
        if best is None or better(value, best):
            best, best_step = value, step
        if counter >= patience:
            stopped = step
            break
    assert best is not None
    true_best = max(values) if greater_is_better else min(values)
    regret = (true_best - best) if greater_is_better else (best - true_best)
    return StopOutcome(patience, threshold, stopped, best_step, best, regret,
                       steps[-1] - stopped if stopped is not None else 0)


def grid(steps: Sequence[int], values: Sequence[float], *, greater_is_better: bool = False,
         patiences: Sequence[int] = (1, 2, 3, 5), thresholds: Sequence[float] = (0.0, 0.001, 0.01)) -> list[StopOutcome]:
    return [replay(steps, values, patience=p, threshold=t, greater_is_better=greater_is_better)
            for p in patiences for t in thresholds]
