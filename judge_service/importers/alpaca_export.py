"""A run's verdicts written back as AlpacaEval ``annotations.json``, for users who keep its tooling.

AlpacaEval's annotations are a list of ``{instruction, output_1, generator_1, output_2,
generator_2, annotator, preference}``: ``output_1`` is the reference (here: the baseline),
``preference`` is in [1, 2] (2 = output_2 preferred), fractional for weighted annotators, and its
win rate is ``100 × mean(preference − 1)``. A run item's preference is 1 + the candidate's mean
probability over every judge, order and sample (a tie counts one half), so AlpacaEval's win rate
of the export is the run's own mean ``prob_candidate``; an item no judge answered gets ``None``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from judge_service.runs.records import ItemResult


def _instruction(item: Mapping[str, Any]) -> str:
    if item.get("prompt") is not None:
        return str(item["prompt"])
    users = [m["content"] for m in item.get("messages") or [] if m.get("role") == "user"]
    return users[-1] if users else ""


def annotation_rows(items: Sequence[Mapping[str, Any]], results: Sequence[ItemResult | None], *, baseline: str,
                    candidate: str, annotator: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for item, result in zip(items, results):
        probs = [p for j in (result.pairwise.judges if result and result.pairwise else [])
                 for o in j.orders if o.error is None for p in o.prob_candidate if p is not None]
        rows.append({"instruction": _instruction(item), "output_1": item["outputs"][baseline], "generator_1": baseline,
                     "output_2": item["outputs"][candidate], "generator_2": candidate, "annotator": annotator,
                     "preference": 1 + sum(probs) / len(probs) if probs else None, "id": str(item["id"])})
    return rows
