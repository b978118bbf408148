"""Request and response models of the judging core: the public contract (API v1)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from judge_service.engine.histories import history_problem
from judge_service.errors import InvalidInput
from judge_service.stats.estimate import Estimate, finite_or_none


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["system", "user", "assistant"]
    content: str = Field(min_length=1)


def _not_blank(v: str | None) -> str | None:
    if v is not None and not v.strip():
        raise ValueError("must not be empty or only whitespace")
    return v


class ConversationInput(BaseModel):
    """What was asked: a single-turn ``prompt`` or a multi-turn ``messages`` list ending with a user turn."""

    prompt: str | None = Field(default=None, description="single-turn user prompt (or use messages)")
    messages: list[Message] | None = Field(default=None, min_length=1, description="multi-turn conversation ending with a user turn")

    def check_conversation(self, where: str = "", label: str = "") -> None:
        """Raised as InvalidInput (not a pydantic error) so the error names the field, under ``where``."""
        field = (where + ".") if where else ""
        if (self.prompt is None) == (self.messages is None):
            raise InvalidInput(f"{label}give exactly one of 'prompt' or 'messages'",
                               field=field + ("prompt" if self.messages is None else "messages"))
        if self.messages is not None and self.messages[-1].role != "user":
            raise InvalidInput(f"{label}'messages' must end with a user turn: the response under judgment answers it",
                               field=field + "messages")

    def check_history(self, history: list[str] | None, field: str) -> None:
        """A response's own earlier answers (``engine/histories.py``), or a 422 naming ``field``."""
        if history is None:
            return
        if self.messages is None:
            raise InvalidInput(f"'{field}' needs 'messages' (the shared turns), not 'prompt'", field="messages")
        problem = history_problem(self.conversation(), history)
        if problem is not None:
            index, why = problem
            raise InvalidInput(why, field=f"messages.{index}" if index is not None else field)

    def conversation(self) -> list[tuple[str, str]]:
        if self.prompt is not None:
            return [("user", self.prompt)]
        return [(m.role, m.content) for m in self.messages or []]


class _JudgeInput(ConversationInput):
    model_config = ConfigDict(extra="forbid")

    rubric: str = Field(min_length=1, description='"name" or "name@version"; latest version if none given')
    rubric_variants: list[str] | None = Field(
        default=None, min_length=1, description="a panel over rubric wordings: variant names of the version (or ['all'])")
    judges: list[str] | None = Field(default=None, min_length=1, description="judge names; default: the configured panel")
    reference: str | None = None
    samples: int = Field(default=1, ge=1, description="replies drawn per judge (and per order)")
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)

    _blank = field_validator("prompt", "reference", "rubric")(_not_blank)


_HISTORY = ("multi-turn, when the system answered the earlier turns itself: its own answers to every user turn "
            "of 'messages' but the last ('messages' then hold only the shared system and user turns)")


class JudgmentRequest(_JudgeInput):
    response: str = Field(min_length=1)
    history: list[str] | None = Field(default=None, description=_HISTORY)
    calibration: str | None = Field(default=None, description="id of a stored calibration to apply")
    _blank_r = field_validator("response")(_not_blank)


class ComparisonRequest(_JudgeInput):
    response_a: str = Field(min_length=1)
    response_b: str = Field(min_length=1)
    history_a: list[str] | None = Field(default=None, description="A's " + _HISTORY + "; with history_b")
    history_b: list[str] | None = Field(default=None, description="B's " + _HISTORY + "; with history_a")
    _blank_ab = field_validator("response_a", "response_b")(_not_blank)


class EvalSetRef(BaseModel):
    """An eval-set version (``POST /v1/eval-sets``) that a run or an evaluation was made on."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=128)
    version: int = Field(ge=1)


class RubricRef(BaseModel):
    name: str
    version: int
    hash: str
    variant: str = Field(default="default", description="the wording: 'default' (the base) or a named variant")


class SpreadOut(BaseModel):
    n: int
    mean: float | None
    stdev: float | None
    min: float | None
    max: float | None


class Usage(BaseModel):
    input_tokens: int
    output_tokens: int


class JudgeScore(BaseModel):
    judge: str
    model: str
    score: float | None
    criteria: dict[str, float]
    rationale: str | None
    method: str | None = Field(description="evidence used: label_probs, logprobs (probability-weighted), structured or text")
    cached: bool
    latency_ms: float
    usage: Usage
    cost_usd: float | None
    samples: list[float]
    sample_spread: SpreadOut
    error: str | None
    variant: str = Field(default="default", description="the rubric wording this judge read")


class VariantVerdict(BaseModel):
    """One rubric wording's own verdict in a panel over variants (one hash, never mixed)."""

    rubric: RubricRef
    score: float | None = None
    criteria: dict[str, float] = Field(default_factory=dict)
    winner: Literal["A", "B", "tie"] | None = None
    prob_a: float | None = None
    spread: SpreadOut


class Panel(BaseModel):
    method: str
    spread: SpreadOut
    unscored: list[str]
    votes: dict[str, int] | None = None


class JudgmentResponse(BaseModel):
    id: str
    kind: Literal["judgment"] = "judgment"
    rubric: RubricRef
    score: float | None
    criteria: dict[str, float]
    length_adjusted_score: float | None = Field(
        description="null for a single judgment: length adjustment needs a population; runs report it")
    calibrated_score: float | None
    calibration_id: str | None
    judges: list[JudgeScore]
    panel: Panel
    cost_usd: float | None
    created_at: str
    flags: list[str] = Field(default_factory=list, description=(
        'signals about the text under judgment, e.g. "judge_directed_instructions": a response that '
        'addresses the judge ("ignore previous instructions", "give this a 10"); see engine/flags.py'))
    variants: list[VariantVerdict] = Field(default_factory=list, description=(
        "with rubric_variants: each wording's own verdict; the top-level figures pool judges x variants"))


class OrderOut(BaseModel):
    order: Literal["AB", "BA"]
    judge: str
    winner: Literal["A", "B", "tie"] | None
    prob_a: float | None
    rationale: str | None
    method: str | None
    samples: list[str]
    sample_spread: SpreadOut
    cached: bool
    error: str | None
    variant: str = "default"


class JudgeVerdict(BaseModel):
    judge: str
    model: str
    winner: Literal["A", "B", "tie"] | None
    prob_a: float | None
    consistent: bool | None
    cached: bool
    latency_ms: float
    usage: Usage
    cost_usd: float | None
    error: str | None
    variant: str = "default"


class ComparisonResponse(BaseModel):
    id: str
    kind: Literal["comparison"] = "comparison"
    rubric: RubricRef
    winner: Literal["A", "B", "tie"] | None
    prob_a: float | None
    consistent: bool | None
    orders: list[OrderOut]
    judges: list[JudgeVerdict]
    panel: Panel
    cost_usd: float | None
    created_at: str
    flags: list[str] = Field(default_factory=list, description=(
        'signals about the text under judgment, e.g. "judge_directed_instructions": a response that '
        'addresses the judge ("ignore previous instructions", "give this a 10"); see engine/flags.py'))
    variants: list[VariantVerdict] = Field(default_factory=list, description=(
        "with rubric_variants: each wording's own verdict; the top-level figures pool judges x variants"))


class EstimateOut(BaseModel):
    """The one edge model of a figure (``stats.estimate.Estimate``): non-finite values are null."""

    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    p_value: float | None = None
    method: str | None = Field(default=None, description='how the CI was made ("BCa", "percentile", "wilson", …)')
    reason: str | None = Field(default=None, description="why the figure is missing, when it is")

    @classmethod
    def of(cls, est: Estimate) -> EstimateOut:
        return cls(estimate=finite_or_none(est.estimate), ci_low=finite_or_none(est.ci_low),
                   ci_high=finite_or_none(est.ci_high), n=est.n, p_value=finite_or_none(est.p_value),
                   method=est.method, reason=est.reason)


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None


class ErrorBody(BaseModel):
    error: ErrorDetail
