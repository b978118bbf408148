"""POST /v1/agreement: stateless agreement statistics on labels the caller already has.

Judge vs human (``a`` = judge, ``b`` = reference), rater vs rater, or many raters (``ratings``).
Every figure comes back as {estimate, ci_low, ci_high, n, reason}; the computation lives in
``judge_service.stats.agreement``, this module only validates and shapes.
"""

from __future__ import annotations

from dataclasses import asdict
from collections.abc import Sequence
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from judge_service.errors import InvalidInput
from judge_service.schemas import ErrorBody, EstimateOut
from judge_service.stats.agreement import (
    VOTES,
    BootstrapConfig,
    grouped_correlations,
    grouped_pairwise_agreement,
    nominal_agreement,
    pairwise_agreement,
    rater_agreement,
    score_agreement,
    system_correlations,
)

router = APIRouter(prefix="/v1", tags=["agreement"])
ERRORS: dict[int | str, dict[str, Any]] = {s: {"model": ErrorBody} for s in (413, 422)}

MAX_ITEMS = 20_000  # bootstraps are O(items x resamples); beyond this, run the library offline
MAX_RATERS = 50


class AgreementRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["ordinal", "interval", "nominal", "pairwise"] = Field(
        description="ordinal scores on a given scale, interval (continuous) scores, nominal categories (unweighted "
                    "kappa, nominal alpha; numbers or names), or pairwise votes A/B/tie")
    a: list[float | str | None] | None = Field(default=None, max_length=MAX_ITEMS,
                                        description="labels of the rater under test (e.g. the judge), one per item")
    b: list[float | str | None] | None = Field(default=None, max_length=MAX_ITEMS,
                                        description="reference labels (e.g. the human), paired with 'a'")
    a_swapped: list[str | int | None] | None = Field(
        default=None, max_length=MAX_ITEMS,
        description="pairwise only: a's votes with the responses shown in the other order, in the original A/B "
                    "identities (as /v1/comparisons reports orders); gives positional agreement")
    ratings: list[list[float | str | None]] | None = Field(
        default=None, max_length=MAX_RATERS,
        description="raters x items matrix, null for missing; instead of a and b")
    groups: list[str | int] | None = Field(default=None, max_length=MAX_ITEMS,
                                           description="group id per item (prompt, document) for the grouped level; for pairwise "
                                                       "votes, figures per group (category, subset)")
    systems: list[str | int] | None = Field(default=None, max_length=MAX_ITEMS,
                                            description="system id per item for the system level")
    labels: list[float | str] | None = Field(
        default=None, max_length=1000,
        description="the rating scale, e.g. [1, 2, 3, 4, 5]; required for ordinal a/b (kappa); never inferred")
    vote_map: dict[str, Literal["A", "B", "tie"]] | None = Field(
        default=None, max_length=100,
        description="pairwise only: how this file spells votes, e.g. {\"1\": \"A\", \"2\": \"B\", \"0\": \"tie\"}; "
                    "A>B/A=B, model_a/model_b, model_1/model_2, any case and 'tie (inconsistent)' are mapped without it")
    kendall_variant: Literal["b", "c"] = "b"
    confidence: float = Field(default=0.95, gt=0.5, lt=1.0)
    n_resamples: int = Field(default=1000, ge=0, le=10_000,
                             description="bootstrap resamples; 0 = point estimates only (no CIs); else at least 100")
    seed: str = Field(default="agreement", max_length=200, description="seeds the bootstrap: same request, same CIs")


class ScoreStats(BaseModel):
    n: int
    pearson: EstimateOut
    spearman: EstimateOut
    kendall: EstimateOut
    kendall_variant: str
    exact_agreement: EstimateOut
    within_one_agreement: EstimateOut
    quadratic_kappa: EstimateOut
    warnings: list[str] = Field(default_factory=list, description="likely encoding mistakes (shifted label sets)")


class NominalStats(BaseModel):
    n: int
    exact_agreement: EstimateOut
    cohen_kappa: EstimateOut = Field(description="unweighted Cohen's kappa")
    classes: list[str]
    warnings: list[str] = Field(default_factory=list, description="likely encoding mistakes (shifted label sets)")


class TwoOrderStats(BaseModel):
    n: int = Field(description="items with a, a_swapped and b all present")
    first_order: EstimateOut
    second_order: EstimateOut
    mean_of_orders: EstimateOut
    both_orders_correct: EstimateOut
    net_vote: EstimateOut = Field(description="the sign of the two orders' votes summed (A +1, tie 0, B -1)")
    consistent_vote: EstimateOut = Field(description="FastChat's rule: a winner only when both orders name it")
    headline: str = Field(description="which of these the response's 'accuracy' is")


class PairwiseGroupStats(BaseModel):
    group: str
    n: int
    n_missing: int
    accuracy: EstimateOut
    accuracy_without_ties: EstimateOut
    cohen_kappa: EstimateOut
    macro_f1: EstimateOut
    two_order_mean: EstimateOut | None = Field(default=None, description="accuracy averaged over both orders")


class LevelStats(BaseModel):
    level: str
    n: int
    pearson: EstimateOut
    spearman: EstimateOut
    kendall: EstimateOut
    kendall_variant: str
    groups_used: int | None = None
    groups_skipped: int | None = None


class PairwiseStats(BaseModel):
    n: int
    accuracy: EstimateOut
    accuracy_without_ties: EstimateOut
    cohen_kappa: EstimateOut
    macro_precision: EstimateOut
    macro_recall: EstimateOut
    macro_f1: EstimateOut
    positional_agreement: EstimateOut | None
    classes: list[str]
    n_missing: int = Field(default=0, description="items where a or b is null (missing), excluded above")
    accuracy_missing_as_wrong: EstimateOut | None = None
    warnings: list[str] = Field(default_factory=list, description="likely encoding mistakes in the input")
    two_order: TwoOrderStats | None = Field(default=None, description="with a_swapped: accuracy per order, averaged "
                                            "over orders, both orders correct, and of the combined vote")


class RaterVsRestOut(BaseModel):
    rater: int
    statistics: dict[str, EstimateOut]


class RaterPairOut(BaseModel):
    rater_a: int
    rater_b: int
    cohen_kappa: EstimateOut


class RaterStats(BaseModel):
    raters: int
    units: int
    alpha_level: str
    alpha: EstimateOut
    rater_vs_rest: list[RaterVsRestOut]
    pairs: list[RaterPairOut]
    warnings: list[str] = Field(default_factory=list, description="a rater whose labels barely overlap the others'")


class AgreementResponse(BaseModel):
    kind: str
    confidence: float
    n_resamples: int
    scores: ScoreStats | None = Field(default=None, description="pooled score statistics (a/b, ordinal or interval)")
    grouped: LevelStats | None = None
    system: LevelStats | None = None
    pairwise: PairwiseStats | None = None
    pairwise_groups: list[PairwiseGroupStats] | None = Field(default=None, description="pairwise figures per group")
    nominal: NominalStats | None = None
    raters: RaterStats | None = Field(default=None, description="alpha and each rater vs the rest (from ratings)")


@router.post("/agreement", response_model=AgreementResponse, responses=ERRORS)
def agreement(body: AgreementRequest) -> dict[str, Any]:
    # a plain def: FastAPI runs it in the thread pool, so a long bootstrap never blocks the event loop
    _check_shape(body)
    config = BootstrapConfig(confidence=body.confidence, n_resamples=body.n_resamples, seed=body.seed)
    out: dict[str, Any] = {"kind": body.kind, "confidence": body.confidence, "n_resamples": body.n_resamples}
    if body.ratings is not None:
        scale: list[float | str] | None = None
        if body.kind == "nominal":
            scale = body.labels
        elif body.kind != "pairwise":
            scale = list(_numeric_labels(body.labels) or []) or None
        out["raters"] = asdict(rater_agreement(body.ratings, body.kind, labels=scale,
                                               kendall_variant=body.kendall_variant, bootstrap=config))
        return out
    if body.kind == "pairwise":
        swapped = None if body.a_swapped is None else _votes(list(body.a_swapped), "a_swapped")
        vote_map: dict[str, str] | None = dict(body.vote_map) if body.vote_map else None
        a_votes, b_votes = _votes(body.a, "a"), _votes(body.b, "b")
        out["pairwise"] = asdict(pairwise_agreement(a_votes, b_votes, a_swapped=swapped, bootstrap=config,
                                                    vote_map=vote_map))
        if body.groups is not None:
            out["pairwise_groups"] = [asdict(g) for g in grouped_pairwise_agreement(
                a_votes, b_votes, body.groups, a_swapped=swapped, bootstrap=config, vote_map=vote_map)]
        return out
    if body.kind == "nominal":
        out["nominal"] = asdict(nominal_agreement(_categories(body.a, "a"), _categories(body.b, "b"),
                                                  labels=body.labels, bootstrap=config))
        return out
    a, b = _numbers(body.a, "a"), _numbers(body.b, "b")
    labels = _numeric_labels(body.labels)
    if body.kind == "ordinal" and labels is None:
        raise InvalidInput("ordinal agreement needs the rating scale in 'labels' (e.g. [1, 2, 3, 4, 5], from the "
                           "rubric): kappa depends on it and it is never inferred from the data", field="labels")
    out["scores"] = asdict(score_agreement(a, b, labels=labels, kendall_variant=body.kendall_variant, bootstrap=config))
    if body.groups is not None:
        out["grouped"] = asdict(grouped_correlations(a, b, body.groups, kendall_variant=body.kendall_variant,
                                                     bootstrap=config))
    if body.systems is not None:
        out["system"] = asdict(system_correlations(a, b, body.systems, kendall_variant=body.kendall_variant,
                                                   bootstrap=config))
    return out


def _check_shape(body: AgreementRequest) -> None:
    if 0 < body.n_resamples < 100:
        raise InvalidInput(f"n_resamples {body.n_resamples} is too few for a CI: send 0 for point estimates only, "
                           "or at least 100", field="n_resamples")
    if body.ratings is not None:
        extra = [f for f in ("a", "b", "a_swapped", "groups", "systems") if getattr(body, f) is not None]
        if extra:
            raise InvalidInput(f"give either 'ratings' or 'a' and 'b', not both (also got {', '.join(extra)})",
                               field=extra[0])
        for i, row in enumerate(body.ratings):
            if len(row) > MAX_ITEMS:
                raise InvalidInput(f"ratings row {i} has {len(row)} items; the limit is {MAX_ITEMS}", field="ratings")
        return
    if body.a is None or body.b is None:
        missing = "a" if body.a is None else "b"
        raise InvalidInput(f"send '{missing}': two paired label lists 'a' and 'b', or a 'ratings' matrix",
                           field=missing)
    if len(body.a) != len(body.b):
        raise InvalidInput(f"'a' has {len(body.a)} items but 'b' has {len(body.b)}; they must be paired item by item",
                           field="b")
    for name in ("a_swapped", "groups", "systems"):
        value = getattr(body, name)
        if value is not None and len(value) != len(body.a):
            raise InvalidInput(f"'{name}' has {len(value)} entries but 'a' has {len(body.a)}; give one per item",
                               field=name)
    if body.kind in ("pairwise", "nominal") and body.systems is not None:
        raise InvalidInput("'systems' levels are for score correlations; send kind 'ordinal' or 'interval'",
                           field="systems")
    if body.kind == "nominal" and body.groups is not None:
        raise InvalidInput("'groups' is for score correlations and pairwise votes, not nominal labels; send one "
                           "request per group", field="groups")
    if body.kind == "pairwise":
        if body.labels is not None and sorted(map(str, body.labels)) != sorted(VOTES):
            raise InvalidInput("pairwise votes are always 'A', 'B', 'tie'; omit 'labels'", field="labels")
    elif body.a_swapped is not None:
        raise InvalidInput("'a_swapped' is for pairwise votes (kind='pairwise')", field="a_swapped")


def _numbers(values: Sequence[float | str | None] | None, name: str) -> list[float]:
    if any(v is None for v in values or []):
        raise InvalidInput(f"'{name}' has a null: for scores, drop the items either side did not score (null "
                           "means missing only for pairwise votes and 'ratings')", field=name)
    bad = [v for v in values or [] if not isinstance(v, float | int)]
    if bad:
        raise InvalidInput(f"'{name}' must hold numbers for ordinal and interval kinds; got {bad[0]!r}", field=name)
    return [float(v) for v in values or [] if isinstance(v, float | int)]


def _categories(values: Sequence[float | str | None] | None, name: str) -> list[float | str]:
    if any(v is None for v in values or []):
        raise InvalidInput(f"'{name}' has a null: for nominal labels, drop the items either side did not label",
                           field=name)
    return [v for v in values or [] if v is not None]


def _numeric_labels(labels: list[float | str] | None) -> list[float] | None:
    return None if labels is None else _numbers(labels, "labels")


def _votes(values: list[float | str | None] | None, name: str) -> list[str | None]:
    # integer-valued votes (1/2/0) keep their integer spelling: never echoed back as "1.0"
    return [v if v is None or isinstance(v, str) else (str(int(v)) if float(v).is_integer() else repr(v))
            for v in values or []]
