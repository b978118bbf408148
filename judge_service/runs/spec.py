"""The request that creates a run (JSON body, or a spec plus a JSONL/CSV file)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from judge_service.errors import InvalidInput, PayloadTooLarge
from judge_service.schemas import ConversationInput, EvalSetRef


class RunItem(ConversationInput):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=200)
    reference: str | None = None
    outputs: dict[str, str] = Field(description="system name -> that system's response")
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
        for name, field_text in [("prompt", item.prompt), ("reference", item.reference), *[(f"outputs.{k}", v) for k, v in item.outputs.items()]]:
            if field_text is not None and len(field_text) > max_text_chars:
                raise PayloadTooLarge(f"item '{item.id}': {name} is {len(field_text)} characters; the limit is {max_text_chars}",
                                      field=f"{where}.{name}")
        if item.human_preference is not None and item.human_preference not in systems | {"tie"}:
            raise InvalidInput(f"item '{item.id}': human_preference must be '{spec.baseline}', '{spec.candidate}' or 'tie'",
                               field=f"{where}.human_preference")
        unknown_meta = sorted(set(item.metadata) - systems)
        if unknown_meta:
            raise InvalidInput(f"item '{item.id}' has metadata for unknown system(s) {unknown_meta}", field=f"{where}.metadata")
