"""The request for a rubric pilot (``POST /v1/rubrics/{name}/pilot``) and its checks."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from judge_service.errors import InvalidInput, PayloadTooLarge
from judge_service.schemas import ConversationInput

# A pilot runs while the request waits: it is meant for 20-50 items, not a full evaluation.
MAX_PILOT_ITEMS = 200


class PilotItem(ConversationInput):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=200)
    response: str | None = Field(default=None, description="absolute: the response to score")
    response_a: str | None = Field(default=None, description="pairwise: the first response (both orders run)")
    response_b: str | None = None
    reference: str | None = None
    human_score: float | None = Field(default=None, description="a person's score of `response`, on the rubric's scale")
    human_preference: Literal["A", "B", "tie"] | None = Field(default=None, description="a person's verdict on the pair")

    @property
    def kind(self) -> Literal["absolute", "pairwise"]:
        return "absolute" if self.response is not None else "pairwise"


class PilotRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int | None = Field(default=None, ge=1, description="rubric version; the latest when omitted")
    items: list[PilotItem]
    variants: list[str] | None = Field(default=None, description="variant names (the first is the reference); "
                                                                  "default: every variant of the version")
    judges: list[str] | None = Field(default=None, min_length=1, description="judge names; default: the configured panel")
    samples: int = Field(default=3, ge=1, description="repeat calls per judge, variant and item: their spread is "
                                                      "the judges' own noise")
    temperature: float = Field(default=1.0, ge=0.0, le=2.0, description="> 0 so repeat samples can differ")
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    alpha: float = Field(default=0.05, gt=0, lt=0.5, description="false-flag rate of the wording-sensitivity test")
    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    n_resamples: int = Field(default=2000, ge=100, le=20000)


def validate_pilot(body: PilotRequest) -> None:
    if not body.items:
        raise InvalidInput("a pilot needs items (20-50 is typical)", field="items")
    if len(body.items) > MAX_PILOT_ITEMS:
        raise PayloadTooLarge(f"{len(body.items)} items; a pilot takes at most {MAX_PILOT_ITEMS} (run the rest as a "
                              "run)", field="items")
    seen: set[str] = set()
    for i, item in enumerate(body.items):
        where = f"items.{i}"
        if item.id in seen:
            raise InvalidInput(f"duplicate item id '{item.id}'", field=f"{where}.id")
        seen.add(item.id)
        item.check_conversation(where, f"item '{item.id}': ")
        pair = (item.response_a is not None, item.response_b is not None)
        if item.response is not None and any(pair):
            raise InvalidInput(f"item '{item.id}': give 'response' (absolute) or 'response_a' and 'response_b' "
                               "(pairwise), not both", field=f"{where}.response")
        if item.response is None and pair != (True, True):
            raise InvalidInput(f"item '{item.id}' needs 'response', or both 'response_a' and 'response_b'",
                               field=f"{where}.response" if not any(pair) else f"{where}.response_b")
        if item.human_score is not None and item.response is None:
            raise InvalidInput(f"item '{item.id}': human_score goes with 'response'; pairs carry human_preference",
                               field=f"{where}.human_score")
        if item.human_preference is not None and item.response is not None:
            raise InvalidInput(f"item '{item.id}': human_preference goes with a pair", field=f"{where}.human_preference")
