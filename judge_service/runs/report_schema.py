"""``RunReportOut``: the typed contract of ``GET /v1/runs/{id}/report`` (the client's ``RunReport`` mirrors it).

The report is built as dataclasses in ``runs/report`` and serialised with their ``to_dict``; this
model names the top-level fields and the decision so the OpenAPI schema, the route and the
client agree. Nested figure sections stay open dicts where their shape is owned by another
module (length control, position bias), so a new diagnostic there is not a breaking change.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class EstimateFigure(_Open):
    estimate: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int = 0
    p_value: float | None = None
    method: str | None = None
    reason: str | None = None


class DecisionCheckOut(BaseModel):
    name: str
    passed: bool | None
    blocking: bool
    detail: str


class DecisionOut(BaseModel):
    rule: str = Field(description="the decision rule in words (README: 'The decision rule')")
    outcome: str = Field(description="candidate_beats | baseline_beats | no_difference | undetermined | "
                                     "nothing_to_decide")
    checks: list[DecisionCheckOut]


class HardVotesOut(_Open):
    wins: int
    ties: int
    losses: int
    p_value: float | None


class PairwiseSummaryOut(_Open):
    n_items: int
    wins: int
    ties: int
    losses: int
    win_rate: EstimateFigure
    win_rate_by_order: dict[str, EstimateFigure]
    length_controlled_win_rate: EstimateFigure
    style_controlled_win_rate: EstimateFigure | None = None
    position: dict[str, Any]
    hard_votes: HardVotesOut | None = None


class ReportJudgeOut(_Open):
    judge: str
    family: str | None = None
    excluded: bool = False
    informative: bool | None = None
    informativeness: dict[str, Any] | None = None


class RunReportOut(_Open):
    run_id: str
    status: str
    complete: bool
    n_items: int
    verdict: str = Field(description="the one-line answer; see 'decision' for how it was reached")
    headline_metric: str | None
    headline: EstimateFigure | None
    decision: DecisionOut | None = None
    pairwise: PairwiseSummaryOut | None
    absolute: dict[str, Any] | None
    judges: list[ReportJudgeOut | str]
    agreement: dict[str, Any]
    self_preference: dict[str, Any]
    arm_parity: list[str]
    power: list[dict[str, Any]]
    warnings: list[str]
    options: dict[str, Any]
    wording: dict[str, Any] | None = Field(default=None, description="runs over several rubric variants: per-variant "
                                           "figures and how much of each interval's width comes from wording")
    rubric_variants: list[dict[str, Any]] = Field(default_factory=list, description="the wordings this run used")
    pilot: dict[str, Any] | None = Field(default=None, description="the latest pilot of this rubric version")
    external_judges: list[dict[str, Any]] = Field(
        default_factory=list, description="imported judges (items' external_judgments, e.g. FastChat's GPT-4 "
                                          "verdicts): each 'external:<name>' with its win rate, position consistency, "
                                          "FastChat's own tally and its per-item verdicts; imported, not re-run, no "
                                          "cost; in the panel's figures only with options.external_judges 'panel'")
