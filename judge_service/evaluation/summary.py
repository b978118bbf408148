"""The rule that combines the layers' verdicts into one line, and never hides a failing layer.

Each layer (judge run, benchmarks, perplexity, task metrics, training curves, training-data
overlap) reports a ``LayerVerdict`` with its own status and a one-line headline that carries its
figures, interval and n. The combined verdict follows a fixed order of precedence:

1. **A regression anywhere is the headline.** If any layer says the candidate is ``worse`` (a
   Holm-significant benchmark regression, perplexity up beyond its interval, the judges preferring
   the baseline), the verdict is ``mixed`` when another layer says ``better`` ("better by the
   judges, worse on benchmarks"), ``worse`` when the judges themselves prefer the baseline, and
   ``regression`` otherwise (a guard layer failed while the judges saw no difference). A win on one layer never cancels a loss
   on another: users act on the line, and the failing layer is the one they most need to see.
2. **Otherwise the judges decide "better".** Human/LLM preference is the layer that answers "do
   people prefer the tuned model's outputs"; the other layers guard it. ``better`` needs the judge
   layer to say better (after its own informativeness gate). Without a judge layer, or when it
   cannot judge, the verdict is ``undetermined`` even if other layers improved, and it says which
   layer is missing.
3. **Equivalence is said as such.** Judge layer ``equivalent`` (and no layer worse) gives
   ``no_difference``: the evidence bounds the difference within the layers' margins.
4. **Concerns qualify, they do not flip.** Overfitting, copying training text or contaminated eval
   items are not evidence that the candidate is worse than the baseline, but they make a "better"
   less trustworthy: they are listed after the verdict ("better, with concerns: …").
5. **A layer that cannot judge says so** in the summary, with its reason; it never counts as
   agreement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

LayerStatus = Literal["better", "worse", "equivalent", "inconclusive", "cannot_judge", "ok", "concern"]
Overall = Literal["better", "regression", "mixed", "no_difference", "worse", "undetermined"]

# Layers whose verdict compares candidate against baseline ("better"/"worse"/"equivalent"/
# "inconclusive"); the others (training curves, overlap) look at the candidate alone and report
# "ok" or "concern".
COMPARATIVE = ("judge", "benchmarks", "perplexity", "task_metrics")
PRIMARY = "judge"


@dataclass(frozen=True)
class LayerVerdict:
    layer: str
    status: LayerStatus
    headline: str  # one line with the figure, its interval and n, e.g. "LC win rate 0.61 [0.55, 0.67], n = 200"
    reason: str | None = None  # why it cannot judge, or what the concern is
    action: str | None = None  # what to do about it


@dataclass(frozen=True)
class CombinedVerdict:
    verdict: Overall
    line: str
    rule: str
    layers: list[LayerVerdict] = field(default_factory=list)
    concerns: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


RULE = ("a 'worse' layer makes the verdict 'regression' (or 'mixed' beside a 'better' one); otherwise 'better' "
        "needs the judge layer to say better; 'equivalent' judges give 'no_difference'; concerns (overfitting, "
        "copying, contamination) qualify the verdict but never flip it; a layer that cannot judge says so")


def _describe(v: LayerVerdict) -> str:
    text = f"{v.layer}: {v.headline}"
    if v.status == "cannot_judge":
        text = f"{v.layer}: cannot judge ({v.reason or 'no reason given'})"
    elif v.status == "concern" and v.reason:
        text += f" — {v.reason}"
    elif v.status == "worse":
        text += " — a regression"
    return text


def combine(layers: Sequence[LayerVerdict]) -> CombinedVerdict:
    by_layer = {v.layer: v for v in layers}
    if len(by_layer) != len(layers):
        raise ValueError("each layer may report one verdict")
    worse = [v for v in layers if v.status == "worse"]
    better = [v for v in layers if v.status == "better"]
    concerns = [_describe(v) for v in layers if v.status == "concern"]
    judge = by_layer.get(PRIMARY)
    missing = [] if judge is not None and judge.status != "cannot_judge" else [PRIMARY]

    verdict: Overall
    if worse:
        judges_prefer_baseline = judge is not None and judge.status == "worse"
        verdict = "mixed" if better else ("worse" if judges_prefer_baseline else "regression")
    elif judge is None or judge.status in ("cannot_judge", "inconclusive"):
        verdict = "undetermined"
    elif judge.status == "better":
        verdict = "better"
    elif judge.status == "equivalent":
        verdict = "no_difference"
    else:
        verdict = "undetermined"

    opening = {
        "better": "candidate is better",
        "regression": "candidate regresses",
        "mixed": "mixed: " + ", ".join(f"better on {v.layer}" for v in better) + "; "
                 + ", ".join(f"worse on {v.layer}" for v in worse),
        "no_difference": "no difference detected within the layers' margins",
        "worse": "candidate is worse",
        "undetermined": "undetermined",
    }[verdict]
    if verdict == "undetermined" and missing:
        opening += (" (no judge layer: add a judge run of both systems' outputs)" if judge is None
                    else f" (the judge layer cannot judge: {judge.reason or 'see it'})")
    elif verdict == "undetermined":
        opening += " (the judges' evidence is inconclusive)"
    if concerns and verdict in ("better", "no_difference", "mixed"):
        opening += ", with concerns"
    line = opening + ". " + "; ".join(_describe(v) for v in layers) + "."
    return CombinedVerdict(verdict=verdict, line=line, rule=RULE, layers=list(layers), concerns=concerns,
                           missing=missing)
