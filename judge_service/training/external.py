"""Judge or benchmark figures per checkpoint, set beside the loss curve.

Eval loss rising can coexist with outputs judges and humans prefer (InstructGPT reports exactly
that); a lower loss does not have to mean better answers. Given figures per checkpoint (a judge
win rate against base, a benchmark accuracy, each an ``Estimate``), this says which checkpoint
each figure prefers and whether that *disagrees* with the loss: the figure's best checkpoint is
not the loss-best one and its interval lies wholly on the better side of the figure at the
loss-best checkpoint (non-overlapping CIs: a conservative test, so "disagrees" is not said lightly).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from judge_service.errors import InvalidInput
from judge_service.stats.estimate import Estimate, finite_or_none

_LOWER_IS_BETTER = ("loss", "error", "wer", "cer", "perplexity", "ppl", "bits_per_byte")


def checkpoint_step(label: str) -> int:
    found = re.fullmatch(r"(?:.*/)?(?:checkpoint-)?(\d+)/?", label.strip())
    if not found:
        raise InvalidInput(f"checkpoint '{label}' must be 'checkpoint-<step>' or a step number", field="checkpoints")
    return int(found.group(1))


def lower_is_better(metric: str) -> bool:
    return any(word in metric.lower() for word in _LOWER_IS_BETTER)


@dataclass(frozen=True)
class ExternalComparison:
    metric: str
    higher_is_better: bool
    points: list[tuple[int, Estimate]]  # (step, figure), by step
    best_step: int
    at_loss_best_step: int  # the checkpoint compared with (the one nearest the loss-best)
    disagrees: bool
    note: str


def compare_external(figures: Mapping[int, Mapping[str, Estimate]], *, loss_best_step: int,
                     loss_metric: str) -> list[ExternalComparison]:
    by_metric: dict[str, list[tuple[int, Estimate]]] = {}
    for step, named in figures.items():
        for metric, estimate in named.items():
            if finite_or_none(estimate.estimate) is not None:
                by_metric.setdefault(metric, []).append((step, estimate))
    out: list[ExternalComparison] = []
    for metric, points in sorted(by_metric.items()):
        points.sort(key=lambda p: p[0])
        higher = not lower_is_better(metric)
        sign = 1.0 if higher else -1.0
        best_step, best = max(points, key=lambda p: sign * float(p[1].estimate or 0.0))
        near_step, near = min(points, key=lambda p: abs(p[0] - loss_best_step))
        if len(points) < 2:
            out.append(ExternalComparison(metric, higher, points, best_step, near_step, False,
                                          f"{metric} is known at one checkpoint only; nothing to compare"))
            continue
        if best_step == near_step:
            disagrees, note = False, f"{metric} agrees with {loss_metric}: both prefer checkpoint-{best_step}"
        else:
            if higher:
                clear = _finite(best.ci_low) is not None and _finite(near.ci_high) is not None and best.ci_low > near.ci_high  # type: ignore[operator]
            else:
                clear = _finite(best.ci_high) is not None and _finite(near.ci_low) is not None and best.ci_high < near.ci_low  # type: ignore[operator]
            disagrees = bool(clear)
            if disagrees:
                note = (f"{metric} disagrees with {loss_metric}: it prefers checkpoint-{best_step} "
                        f"({best.estimate:.4g}) over the loss-best checkpoint-{near_step} ({near.estimate:.4g}), "
                        "and their intervals do not overlap; pick the checkpoint by what you ship for")
            else:
                note = (f"{metric} is highest at checkpoint-{best_step}" if higher else f"{metric} is lowest at checkpoint-{best_step}")
                note += f", not the loss-best checkpoint-{near_step}, but within uncertainty of it"
        out.append(ExternalComparison(metric, higher, points, best_step, near_step, disagrees, note))
    return out


def _finite(x: float | None) -> float | None:
    return finite_or_none(x)
