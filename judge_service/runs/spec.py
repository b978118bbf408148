"""The request that creates a run (JSON body, or a spec plus a JSONL/CSV file)."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from judge_service.engine.histories import history_problem
from judge_service.errors import InvalidInput, PayloadTooLarge
from judge_service.schemas import ConversationInput, EvalSetRef


class ExternalOrder(BaseModel):
    """One game of an imported pairwise judgment: who was shown first, and who the judge preferred."""

    model_config = ConfigDict(extra="forbid")
    first: str = Field(description="the system shown first (as response A) in this game")
    winner: str | None = Field(description="the system the judge preferred, 'tie', or null (the judge's reply "
                                           "was an error or unparseable: left out, never a tie)")


class ExternalJudgment(BaseModel):
    """Verdicts another tool's judge already gave on this item (FastChat's GPT-4 judgments, ...):
    reported as an imported judge beside the service's panel, never re-run, no cost."""

    model_config = ConfigDict(extra="forbid")
    source: str | None = Field(default=None, max_length=500, description="where the verdicts came from (a file name)")
    orders: list[ExternalOrder] = Field(default_factory=list, max_length=2,
                                        description="pairwise games, at most one per system shown first")
    scores: dict[str, float | None] = Field(default_factory=dict, description="system name -> the judge's absolute "
                                                                                "score (null: unparseable)")


class RunItem(ConversationInput):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=200)
    reference: str | None = None
    outputs: dict[str, str] = Field(description="system name -> that system's response")
    histories: dict[str, list[str]] | None = Field(
        default=None, description="multi-turn items where each system answered the earlier turns itself: system "
                                  "name -> its own answers to every user turn of 'messages' but the last (then "
                                  "'messages' hold only the shared system and user turns); the judge reads each "
                                  "system's own conversation")
    external_judgments: dict[str, ExternalJudgment] | None = Field(
        default=None, description="judge name -> verdicts an outside judge already gave (imported "
                                          "files); the report shows each as the judge 'external:<name>'")
    # dict[Any, Any]: exactly what the bare ``dict`` validated before (any mapping per system).
    metadata: dict[str, dict[Any, Any]] = Field(default_factory=dict,
                                      description="system name -> generation metadata (model, chat_template, temperature, ...)")
    human_preference: str | None = Field(
        default=None, description="a human's verdict on this item: the baseline's name, the candidate's name or 'tie'; "
                                  "items with one feed the prediction-powered (PPI) estimate in the report")


class RunOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    style_control: bool = False
    exclude_self_preferring: bool = False
    system_families: dict[str, str] = Field(default_factory=dict, description="system name -> model family, for self-preference flags")
    target_difference: float | None = Field(default=None, gt=0, lt=1, description="win-rate difference you want to detect")
    calibration: str | None = Field(default=None, description="id of a calibration (same rubric version and judges): "
                                                             "absolute mode then also reports scores on the human scale")
    human_check: str | None = Field(
        default=None, description="id of a calibration (same rubric version and judges, any kind) whose "
                                  "judge-vs-human agreement gates the verdict; defaults to 'calibration' when set")
    external_judges: Literal["beside", "panel"] = Field(
        default="beside", description="items' external_judgments (imported verdicts): 'beside' reports each as its "
                                      "own judge next to the panel, outside the verdict; 'panel' also counts it as a "
                                      "member of the panel in every figure and the verdict")
    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    n_resamples: int = Field(default=2000, ge=100, le=20000)


MAX_PROBE_SAMPLE = 500


class LengthProbes(BaseModel):
    """Counterfactual length probes (README: "Length probes"): the rewriter makes a verbose and a concise
    rewrite of ``sample`` of the baseline's answers, the run's judges judge each against its original in
    both orders, and the length-controlled win rate's slope is fitted on those rows too."""

    model_config = ConfigDict(extra="forbid")

    rewriter: str = Field(min_length=1, description="a configured judge, used as a text generator")
    sample: int = Field(default=50, ge=5, le=MAX_PROBE_SAMPLE,
                        description="how many baseline answers to rewrite (all items when the run has fewer)")


class RunSpec(BaseModel):
    """Everything about a run but its items."""

    model_config = ConfigDict(extra="forbid")

    rubric: str = Field(min_length=1)
    rubric_variants: list[str] | None = Field(
        default=None, min_length=1,
        description="a panel over rubric wordings: variant names of the rubric's version (or ['all']); every item is "
                    "judged under each, the report aggregates across judges x variants and its intervals include "
                    "the variance across wordings")
    judges: list[str] | None = Field(default=None, min_length=1)
    mode: Literal["pairwise", "absolute", "both"] = "pairwise"
    baseline: str = Field(min_length=1)
    candidate: str = Field(min_length=1)
    samples: int = Field(default=1, ge=1)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    options: RunOptions = Field(default_factory=RunOptions)
    execution: Literal["direct", "batch", "auto"] | dict[str, Literal["direct", "batch", "auto"]] = Field(
        default="direct", description="how judges send their calls: direct, batch (the provider's batch API: about half "
                                      "the price, answers within 24 h) or auto (batch for a judge with more than "
                                      "batch_min_calls calls whose provider has one); one value for all judges or "
                                      "judge name -> value")
    batch_min_calls: int | None = Field(default=None, ge=0, description="for execution auto: batch a judge with more "
                                                                         "calls than this (default: the service's)")
    eval_set: EvalSetRef | None = Field(default=None, description="the eval-set version these items come from: every "
                                                                   "item id must be in it, with the same prompt")
    length_probes: LengthProbes | None = Field(
        default=None, description="pin the length-controlled win rate's length slope with rewrites of the baseline's "
                                  "answers that change only their length (pairwise and both modes)")


class RunCreate(RunSpec):
    items: list[RunItem]


def validate_items(spec: RunSpec, items: list[RunItem], *, max_items: int, max_text_chars: int) -> None:
    """Refuse up front what would otherwise become NaN or a silent skip halfway through a run."""
    if spec.baseline == spec.candidate:
        raise InvalidInput("baseline and candidate must be different systems", field="candidate")
    if not items:
        raise InvalidInput("a run needs at least one item", field="items")
    if len(items) > max_items:
        raise PayloadTooLarge(f"{len(items)} items; the limit is {max_items} per run (JUDGE_MAX_RUN_ITEMS)", field="items")
    systems = {spec.baseline, spec.candidate}
    seen: set[str] = set()
    for i, item in enumerate(items):
        where = f"items.{i}"
        if item.id in seen:
            raise InvalidInput(f"duplicate item id '{item.id}'", field=f"{where}.id")
        seen.add(item.id)
        item.check_conversation(where, f"item '{item.id}': ")
        unknown = sorted(set(item.outputs) - systems)
        if unknown:
            raise InvalidInput(f"item '{item.id}' has outputs for unknown system(s) {unknown}; this run compares "
                               f"'{spec.baseline}' and '{spec.candidate}'", field=f"{where}.outputs")
        missing = sorted(systems - set(item.outputs))
        if missing:
            raise InvalidInput(f"item '{item.id}' is missing the output of {missing}", field=f"{where}.outputs")
        for name, text in item.outputs.items():
            if not text.strip():
                raise InvalidInput(f"item '{item.id}': the output of '{name}' is empty", field=f"{where}.outputs.{name}")
        for name, field_text in [("prompt", item.prompt), ("reference", item.reference), *[(f"outputs.{k}", v) for k, v in item.outputs.items()],
                                *[(f"histories.{k}.{n}", t) for k, h in (item.histories or {}).items() for n, t in enumerate(h)]]:
            if field_text is not None and len(field_text) > max_text_chars:
                raise PayloadTooLarge(f"item '{item.id}': {name} is {len(field_text)} characters; the limit is {max_text_chars}",
                                      field=f"{where}.{name}")
        if item.human_preference is not None and item.human_preference not in systems | {"tie"}:
            raise InvalidInput(f"item '{item.id}': human_preference must be '{spec.baseline}', '{spec.candidate}' or 'tie'",
                               field=f"{where}.human_preference")
        _check_histories(item, where, systems)
        _check_external(item, where, systems)
        unknown_meta = sorted(set(item.metadata) - systems)
        if unknown_meta:
            raise InvalidInput(f"item '{item.id}' has metadata for unknown system(s) {unknown_meta}", field=f"{where}.metadata")


def _check_histories(item: RunItem, where: str, systems: set[str]) -> None:
    if item.histories is None:
        return
    field = f"{where}.histories"
    if item.messages is None:
        raise InvalidInput(f"item '{item.id}': histories need 'messages' (the shared turns), not 'prompt'",
                           field=f"{where}.messages")
    if set(item.histories) != systems:
        raise InvalidInput(f"item '{item.id}': histories must name exactly the run's systems {sorted(systems)}; "
                           f"got {sorted(item.histories)}", field=field)
    shared = item.conversation()
    for name in sorted(item.histories):
        problem = history_problem(shared, item.histories[name])
        if problem is not None:
            index, why = problem
            raise InvalidInput(f"item '{item.id}': {why}",
                               field=f"{where}.messages.{index}" if index is not None else f"{field}.{name}")


def _check_external(item: RunItem, where: str, systems: set[str]) -> None:
    for judge, verdicts in (item.external_judgments or {}).items():
        at = f"{where}.external_judgments.{judge}"
        if not judge.strip() or len(judge) > 200:
            raise InvalidInput(f"item '{item.id}': an external judge needs a name of 1 to 200 characters",
                               field=f"{where}.external_judgments")
        firsts = [o.first for o in verdicts.orders]
        for k, order in enumerate(verdicts.orders):
            if order.first not in systems:
                raise InvalidInput(f"item '{item.id}': 'first' must be one of {sorted(systems)}", field=f"{at}.orders.{k}.first")
            if order.winner is not None and order.winner not in systems | {"tie"}:
                raise InvalidInput(f"item '{item.id}': winner must be one of {sorted(systems)}, 'tie' or null",
                                   field=f"{at}.orders.{k}.winner")
        if len(set(firsts)) != len(firsts):
            raise InvalidInput(f"item '{item.id}': two games show '{firsts[0]}' first; give one game per order",
                               field=f"{at}.orders")
        for name, score in verdicts.scores.items():
            if name not in systems:
                raise InvalidInput(f"item '{item.id}': scores name unknown system '{name}'", field=f"{at}.scores.{name}")
            if score is not None and not math.isfinite(score):
                raise InvalidInput(f"item '{item.id}': a score must be a finite number or null", field=f"{at}.scores.{name}")
