"""What every reader produces: named series of (step, epoch, value) points, plus what the log says of itself."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Point:
    step: int
    epoch: float | None
    value: float


@dataclass
class Series:
    name: str
    points: list[Point] = field(default_factory=list)

    @property
    def steps(self) -> list[int]:
        return [p.step for p in self.points]

    @property
    def values(self) -> list[float]:
        return [p.value for p in self.points]


@dataclass
class TrainingLog:
    """One run's series, as read from one file (or an output dir's newest state)."""

    source: str
    format: str  # "hf_trainer_state" | "llama_factory" | "wandb_csv" | "mlflow" | "tensorboard"
    series: dict[str, Series] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)  # best_metric, best_global_step, max_steps, early stopping …
    eval_sizes: list[tuple[int, float]] = field(default_factory=list)  # (step, eval_runtime × samples/s)
    duplicates: int = 0  # lines or entries logged twice (same series and step) and dropped
    restarts: list[int] = field(default_factory=list)  # steps at which the step counter went back
    non_finite: list[tuple[str, int]] = field(default_factory=list)  # (series, step) with nan/inf values
    summary_train_loss: float | None = None  # HF's final `train_loss`: the run's mean, not a point

    def add(self, name: str, step: int, epoch: float | None, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return
        v = float(value)
        if not math.isfinite(v):
            self.non_finite.append((name, step))
            return
        self.series.setdefault(name, Series(name)).points.append(Point(step, epoch, v))

    def normalise(self) -> None:
        """Dedupe by (series, step) keeping the last value; note restarts (step going back).

        ``duplicates`` counts repeated log entries (lines), not values: one repeated line carries a
        value for each of its series, so the most-duplicated series gives the count.
        """
        for s in self.series.values():
            repeated = 0
            seen: dict[int, Point] = {}
            last_step = None
            for p in s.points:
                if last_step is not None and p.step < last_step and p.step not in seen:
                    self.restarts.append(p.step)
                if p.step in seen:
                    repeated += 1
                seen[p.step] = p
                last_step = p.step
            s.points = sorted(seen.values(), key=lambda p: p.step)
            self.duplicates = max(self.duplicates, repeated)
        self.restarts = sorted(set(self.restarts))
