"""AlpacaEval files: ``model_outputs.json`` and ``annotations.json``.

Formats (tatsu-lab/alpaca_eval): ``model_outputs.json`` is a list of ``{instruction, output,
generator, dataset}``; ``annotations.json`` is a list of ``{instruction, output_1, generator_1,
output_2, generator_2, annotator, preference, ...}`` where ``output_1`` is the *reference* model
(the leaderboard's baseline, e.g. ``gpt4_1106_preview``), and ``preference`` lies in [1, 2]
(fractional for weighted annotators; sometimes serialised as a string; null when the annotator
failed).

The headline figures follow AlpacaEval's leaderboard columns: ``win_rate`` = 100 × mean(preference
− 1); ``standard_error`` = sample sd of 100 × (preference − 1) / √n; wins/losses/draws are
preference > 1.5 / < 1.5 / = 1.5; ``discrete_win_rate`` = 100 × (wins + draws / 2) / n.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from judge_service.errors import InvalidInput


@dataclass(frozen=True)
class ModelOutput:
    instruction: str
    output: str
    generator: str
    dataset: str | None


@dataclass(frozen=True)
class Annotation:
    instruction: str
    output_1: str
    generator_1: str
    output_2: str
    generator_2: str
    annotator: str | None
    preference: float | None  # None: the annotator gave no usable preference


@dataclass(frozen=True)
class AnnotationSummary:
    """One arm's leaderboard row, recomputed from its annotations."""

    generator: str
    baseline_generator: str
    annotator: str | None
    win_rate: float
    standard_error: float
    n_wins: int
    n_wins_base: int
    n_draws: int
    n_total: int
    n_missing: int
    discrete_win_rate: float
    avg_length: float


@dataclass(frozen=True)
class JoinedItems:
    """Two arms' outputs joined on the instruction text, with what could not be joined."""

    items: list[dict[str, Any]]
    only_baseline: list[str] = field(default_factory=list)
    only_candidate: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)


def _records(data: Any, what: str) -> list[Mapping[str, Any]]:
    if not isinstance(data, list) or not data:
        raise InvalidInput(f"{what} must be a non-empty JSON list of records (AlpacaEval's format)", field=what)
    for i, row in enumerate(data):
        if not isinstance(row, Mapping):
            raise InvalidInput(f"{what}[{i}] is not a JSON object", field=f"{what}.{i}")
    return data


def _text(row: Mapping[str, Any], key: str, where: str) -> str:
    value = row.get(key)
    if not isinstance(value, str):
        raise InvalidInput(f"{where}.{key} is missing or not a string; is this an AlpacaEval file?",
                           field=f"{where}.{key}")
    return value


def read_model_outputs(data: Any, what: str = "model_outputs") -> list[ModelOutput]:
    rows = _records(data, what)
    out = []
    for i, row in enumerate(rows):
        where = f"{what}.{i}"
        dataset = row.get("dataset")
        out.append(ModelOutput(_text(row, "instruction", where), _text(row, "output", where),
                               _text(row, "generator", where), dataset if isinstance(dataset, str) else None))
    generators = sorted({o.generator for o in out})
    if len(generators) > 1:
        raise InvalidInput(f"{what} mixes generators {generators}; send one model's outputs per arm", field=what)
    return out


def _preference(value: Any, where: str) -> float | None:
    if value is None:
        return None
    try:
        pref = float(value)  # AlpacaEval writes the weighted preference as a string at times
    except (TypeError, ValueError):
        raise InvalidInput(f"{where}.preference is {type(value).__name__}, not a number in [1, 2]",
                           field=f"{where}.preference") from None
    if math.isnan(pref):
        return None
    if not 1.0 <= pref <= 2.0:
        raise InvalidInput(f"{where}.preference is outside [1, 2] (1 = output_1 preferred, 2 = output_2)",
                           field=f"{where}.preference")
    return pref


def read_annotations(data: Any, what: str = "annotations") -> list[Annotation]:
    rows = _records(data, what)
    out = []
    for i, row in enumerate(rows):
        where = f"{what}.{i}"
        annotator = row.get("annotator")
        out.append(Annotation(
            _text(row, "instruction", where), _text(row, "output_1", where), _text(row, "generator_1", where),
            _text(row, "output_2", where), _text(row, "generator_2", where),
            annotator if isinstance(annotator, str) else None, _preference(row.get("preference"), where)))
    for key in ("generator_1", "generator_2", "annotator"):
        values = sorted({str(getattr(a, key)) for a in out})
        if len(values) > 1:
            raise InvalidInput(f"{what} mixes {key} values {values}; one file is one model against one "
                               f"baseline by one annotator", field=f"{what}.{key}")
    return out


def summarise(annotations: Sequence[Annotation]) -> AnnotationSummary:
    """The leaderboard row of one arm (missing preferences are counted and left out)."""
    if not annotations:
        raise InvalidInput("no annotations to summarise", field="annotations")
    prefs = np.array([a.preference for a in annotations if a.preference is not None], dtype=float)
    n = int(prefs.size)
    if n == 0:
        raise InvalidInput("every annotation lacks a preference", field="annotations")
    scaled = 100.0 * (prefs - 1.0)
    wins, losses, draws = int((prefs > 1.5).sum()), int((prefs < 1.5).sum()), int((prefs == 1.5).sum())
    first = annotations[0]
    return AnnotationSummary(
        generator=first.generator_2, baseline_generator=first.generator_1, annotator=first.annotator,
        win_rate=float(scaled.mean()),
        standard_error=float(scaled.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan,
        n_wins=wins, n_wins_base=losses, n_draws=draws, n_total=n,
        n_missing=len(annotations) - n,
        discrete_win_rate=100.0 * (wins + draws / 2) / n,
        avg_length=float(np.mean([len(a.output_2) for a in annotations])))


def comparability_problems(baseline: Sequence[Annotation], candidate: Sequence[Annotation]) -> list[str]:
    """Why two arms' annotations cannot be compared (empty when they can).

    Folder names lie: two arms are comparable only when the same annotator judged both against the
    same reference model.
    """
    problems = []
    a, b = baseline[0], candidate[0]
    if a.annotator != b.annotator:
        problems.append(f"annotator differs: '{a.annotator}' for the baseline arm, '{b.annotator}' for the candidate")
    if a.generator_1 != b.generator_1:
        problems.append(f"reference model (generator_1) differs: '{a.generator_1}' vs '{b.generator_1}'")
    return problems


def join_outputs(baseline: Sequence[ModelOutput], candidate: Sequence[ModelOutput], *,
                 baseline_name: str, candidate_name: str) -> JoinedItems:
    """Run items over the instructions both arms answered; unmatched instructions are reported."""
    if baseline_name == candidate_name:
        raise InvalidInput("baseline and candidate need different names", field="candidate_name")

    def index(rows: Sequence[ModelOutput]) -> tuple[dict[str, ModelOutput], list[str]]:
        seen: dict[str, ModelOutput] = {}
        dupes = []
        for row in rows:
            if row.instruction in seen:
                dupes.append(row.instruction)
            seen[row.instruction] = row
        return seen, dupes

    base, dupes_b = index(baseline)
    cand, dupes_c = index(candidate)
    items = []
    for n, (instruction, b) in enumerate(base.items()):
        c = cand.get(instruction)
        if c is None:
            continue
        items.append({"id": f"alpaca-{n}", "prompt": instruction,
                      "outputs": {baseline_name: b.output, candidate_name: c.output},
                      "metadata": {baseline_name: {"generator": b.generator, "dataset": b.dataset},
                                   candidate_name: {"generator": c.generator, "dataset": c.dataset}}})
    return JoinedItems(items=items,
                       only_baseline=[i for i in base if i not in cand],
                       only_candidate=[i for i in cand if i not in base],
                       duplicates=sorted(set(dupes_b + dupes_c)))
