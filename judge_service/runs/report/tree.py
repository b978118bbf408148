"""The report's shape: small frozen dataclasses, each with ``to_dict`` for the HTTP edge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from judge_service.bias.length import LengthAdjustedDifference, LengthControlledWinRate
from judge_service.bias.position import PositionBias
from judge_service.bias.probes import ProbeSummary
from judge_service.runs.report.gate import JudgeGate
from judge_service.stats.estimate import Estimate
from judge_service.stats.inference import PairedDifference


class _Serialisable(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


def _opt(x: _Serialisable | None) -> dict[str, Any] | None:
    return x.to_dict() if x is not None else None


@dataclass(frozen=True)
class HardVotes:
    """Items won, tied and lost on the calls' winners alone; p_value: two-sided sign test (ties dropped)."""

    wins: int
    ties: int
    losses: int
    p_value: float

    def to_dict(self) -> dict[str, Any]:
        return {"wins": self.wins, "ties": self.ties, "losses": self.losses, "p_value": self.p_value,
                "test": "two-sided sign test on items won vs lost by the calls' winners (ties dropped)"}


@dataclass(frozen=True)
class PairwiseSummary:
    n_items: int  # items with at least one scored call
    n_scored_calls: int
    n_unscored_calls: int
    items_without_scored_call: int
    wins: int  # items whose soft preference is > 0.5
    ties: int
    losses: int
    win_rate: Estimate  # raw, both orders pooled; p_value = sign test on non-tied items
    win_rate_by_order: dict[str, Estimate]  # "AB" (baseline first), "BA" (candidate first)
    length_controlled: LengthControlledWinRate
    style_controlled: LengthControlledWinRate | None
    position: PositionBias  # pooled over judges
    item_preferences: tuple[float, ...] = ()  # per-item soft preference (not serialised)
    hard_votes: HardVotes | None = None
    length_probes: ProbeSummary | None = None  # the length slope pinned by rewrites (bias/probes.py)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_items": self.n_items,
            "n_scored_calls": self.n_scored_calls,
            "n_unscored_calls": self.n_unscored_calls,
            "items_without_scored_call": self.items_without_scored_call,
            "wins": self.wins,
            "ties": self.ties,
            "losses": self.losses,
            "win_rate": self.win_rate.to_dict(),
            "win_rate_by_order": {k: v.to_dict() for k, v in self.win_rate_by_order.items()},
            "length_controlled_win_rate": self.length_controlled.controlled.to_dict(),
            "length_control": self.length_controlled.to_dict() | {
                "probes": self.length_probes.to_dict() if self.length_probes else {"used": False}},
            "style_controlled_win_rate": _opt(self.style_controlled.controlled) if self.style_controlled else None,
            "style_control": _opt(self.style_controlled),
            "position": self.position.to_dict(),
            "hard_votes": _opt(self.hard_votes),
        }


@dataclass(frozen=True)
class AbsoluteSummary:
    n_items: int  # items with at least one (judge, sample) scored for both systems
    n_unscored_records: int
    items_unpaired: int  # items with scores for only one system (or none)
    score_difference: PairedDifference | None  # overall score, candidate − baseline
    criteria: dict[str, PairedDifference]
    length: LengthAdjustedDifference | None
    item_differences: tuple[float, ...] = ()  # per-item score difference (not serialised)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_items": self.n_items,
            "n_unscored_records": self.n_unscored_records,
            "items_unpaired": self.items_unpaired,
            "score_difference": _opt(self.score_difference),
            "criteria": {k: v.to_dict() for k, v in self.criteria.items()},
            "length": _opt(self.length),
        }


@dataclass(frozen=True)
class JudgeBreakdown:
    judge: str
    family: str | None
    win_rate: Estimate | None
    position: PositionBias | None
    score_difference: Estimate | None
    n_pairwise_calls: int
    n_absolute_records: int
    unscored: int
    self_preferring_for: list[str]  # systems sharing this judge's family
    excluded: bool
    gate: JudgeGate | None = None  # pairwise judges only

    def to_dict(self) -> dict[str, Any]:
        return {
            "judge": self.judge,
            "family": self.family,
            "win_rate": _opt(self.win_rate),
            "position_consistency": _opt(self.position.position_consistency) if self.position else None,
            "first_position_share": _opt(self.position.first_position_share) if self.position else None,
            "score_difference": _opt(self.score_difference),
            "n_pairwise_calls": self.n_pairwise_calls,
            "n_absolute_records": self.n_absolute_records,
            "unscored": self.unscored,
            "self_preferring_for": list(self.self_preferring_for),
            "excluded": self.excluded,
            "informative": self.gate.informative if self.gate else None,
            "informativeness": self.gate.to_dict() if self.gate else None,
        }


@dataclass(frozen=True)
class Agreement:
    """Krippendorff's alpha between panel judges (None with a note when undefined)."""

    pairwise_alpha: float | None  # units = items, value = judge's item verdict (ordinal 0/0.5/1)
    absolute_alpha: float | None  # units = (item, system), value = judge's mean score (interval)
    n_judges: int
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "pairwise_alpha": self.pairwise_alpha,
            "pairwise_level": "ordinal",
            "absolute_alpha": self.absolute_alpha,
            "absolute_level": "interval",
            "n_judges": self.n_judges,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class SelfPreference:
    flags: list[dict[str, str]]  # {"judge", "system", "family"}
    excluded_judges: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"flags": [dict(f) for f in self.flags], "excluded_judges": list(self.excluded_judges)}


@dataclass(frozen=True)
class Power:
    metric: str
    sd: float
    n: int
    minimum_detectable_difference: float  # two-sided alpha 0.05, power 0.8
    target_difference: float | None
    n_needed: int | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "sd": self.sd,
            "n": self.n,
            "alpha": 0.05,
            "power": 0.8,
            "minimum_detectable_difference": self.minimum_detectable_difference,
            "target_difference": self.target_difference,
            "n_needed": self.n_needed,
        }


@dataclass(frozen=True)
class DecisionCheck:
    """One condition of the decision rule: ``passed`` None = not applicable; ``blocking`` False = a caution."""

    name: str
    passed: bool | None
    detail: str
    blocking: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "blocking": self.blocking, "detail": self.detail}


@dataclass(frozen=True)
class Decision:
    """How the verdict was reached: the rule in words, each check, and the outcome."""

    rule: str
    checks: tuple[DecisionCheck, ...]
    outcome: str  # candidate_beats | baseline_beats | no_difference | undetermined | nothing_to_decide

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "outcome": self.outcome, "checks": [c.to_dict() for c in self.checks]}


@dataclass(frozen=True)
class RunReport:
    n_items: int
    verdict: str
    headline_metric: str | None
    headline: Estimate | None
    pairwise: PairwiseSummary | None
    absolute: AbsoluteSummary | None
    judges: list[JudgeBreakdown]
    agreement: Agreement
    self_preference: SelfPreference
    arm_parity: list[str]
    power: list[Power]
    warnings: list[str]
    options: dict[str, Any]
    decision: Decision | None = None
    wording: _Serialisable | None = None  # report.wording.WordingSection, runs over several rubric variants

    def to_dict(self) -> dict[str, Any]:
        return {
            "wording": _opt(self.wording),
            "n_items": self.n_items,
            "verdict": self.verdict,
            "headline_metric": self.headline_metric,
            "headline": _opt(self.headline),
            "pairwise": _opt(self.pairwise),
            "absolute": _opt(self.absolute),
            "judges": [j.to_dict() for j in self.judges],
            "agreement": self.agreement.to_dict(),
            "self_preference": self.self_preference.to_dict(),
            "arm_parity": list(self.arm_parity),
            "power": [p.to_dict() for p in self.power],
            "warnings": list(self.warnings),
            "options": dict(self.options),
            "decision": _opt(self.decision),
        }
