"""Normalised training-log series: (name, step, epoch, value), deduplicated, split at restarts.

Every reader turns its format into ``RawRecord``s in file order; ``normalise`` is the one place
that decides what a duplicate, a restart and a non-finite value are, so the five formats cannot
disagree about it.

Restarts: a run resumed from a checkpoint appends entries whose step goes back (LLaMA-Factory
appends to the same ``trainer_log.jsonl``; a W&B/TensorBoard run resumed into the same directory
does the same). The resumed segment is what produced the final model, so its points replace the
earlier segment's points from the step it restarted at; the earlier ones are counted, not used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

# Names are HF Trainer's (the most common source): "loss" is the train loss, "eval_loss" the eval
# loss, "eval_<set>_loss" one eval set of several. Other formats map their tags onto these.
TRAIN_LOSS = "loss"


@dataclass(frozen=True)
class RawRecord:
    name: str
    step: int
    value: float
    epoch: float | None = None


@dataclass(frozen=True)
class Point:
    step: int
    value: float
    epoch: float | None = None


@dataclass
class Series:
    name: str
    points: list[Point]

    @property
    def steps(self) -> list[int]:
        return [p.step for p in self.points]

    @property
    def values(self) -> list[float]:
        return [p.value for p in self.points]


@dataclass
class NormalisedLog:
    series: dict[str, Series]
    duplicates: int = 0  # records repeated with the same (name, step, value)
    conflicting_duplicates: int = 0  # same (name, step), different value, no restart between
    restarts: list[int] = field(default_factory=list)  # steps a segment restarted at (one per restart)
    superseded_points: int = 0  # points of an earlier segment replaced by a resumed one
    non_finite: dict[str, list[int]] = field(default_factory=dict)  # name -> steps whose value was nan/inf


def normalise(records: list[RawRecord]) -> NormalisedLog:
    """Group by name in file order, split each name at steps going back, dedupe by (name, step)."""
    by_name: dict[str, list[RawRecord]] = {}
    for r in records:
        by_name.setdefault(r.name, []).append(r)
    out = NormalisedLog(series={})
    restart_steps: set[int] = set()
    for name, recs in by_name.items():
        kept: dict[int, RawRecord] = {}
        last_step: int | None = None
        for r in recs:
            if last_step is not None and r.step < last_step:
                # resumed: everything from r.step on in the earlier segment is superseded
                restart_steps.add(r.step)
                stale = [s for s in kept if s >= r.step]
                out.superseded_points += len(stale)
                for s in stale:
                    del kept[s]
            elif r.step in kept:
                if _same(kept[r.step].value, r.value):
                    out.duplicates += 1
                else:
                    out.conflicting_duplicates += 1
            last_step = r.step
            kept[r.step] = r
        points: list[Point] = []
        for step in sorted(kept):
            r = kept[step]
            if not math.isfinite(r.value):
                out.non_finite.setdefault(name, []).append(step)
                continue
            points.append(Point(step, r.value, r.epoch))
        out.series[name] = Series(name, points)
    out.restarts = sorted(restart_steps)
    return out


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))
