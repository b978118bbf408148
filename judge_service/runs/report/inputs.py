"""The report's inputs: the flat verdict records, the options, and their validation.

Pure; no I/O. ``runs/records.py`` builds these records from stored run items.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from judge_service.errors import InvalidInput


SYSTEMS = ("candidate", "baseline")
WINNER_VALUE = {"candidate": 1.0, "tie": 0.5, "baseline": 0.0}
ORDERS = ("AB", "BA")
# Generation metadata keys that name the model itself and are *expected* to differ between
# arms; anything else differing (template, sampling, prompt set) is an unfair comparison.
MODEL_IDENTITY_KEYS = frozenset(
    {"model", "model_id", "model_name", "model_path", "model_revision", "revision", "name", "system", "system_name", "id"}
)
# Warn when more than this share of pairwise calls came back unscored.
UNSCORED_WARNING = 0.1
# Tolerance for calling an item's soft preference exactly 0.5 (a tie for the sign test).
TIE_TOLERANCE = 1e-9
# In a run over several rubric variants, calls of the v-th variant carry sample indexes
# v * VARIANT_STRIDE + k (k: the judge sample), so every figure keyed by (item, judge, sample) keeps
# the wordings' calls apart; samples per call are bounded far below this (JUDGE_MAX_SAMPLES).
VARIANT_STRIDE = 10_000


@dataclass(frozen=True)
class PairwiseRecord:
    item_id: str
    judge: str
    order: str  # "AB" = baseline shown first (position A), "BA" = candidate first
    sample_index: int
    winner: str | None  # "candidate" | "baseline" | "tie" | None (unscored by the judge)
    prob_candidate: float | None  # P(candidate better) from this call (ties count half), None if unknown
    variant: str = "default"  # the rubric wording this call used (runs over several variants)


@dataclass(frozen=True)
class AbsoluteRecord:
    item_id: str
    judge: str
    system: str  # "candidate" | "baseline"
    sample_index: int
    score: float | None  # None = unscored
    criteria: dict[str, float]
    variant: str = "default"  # the rubric wording this call used (runs over several variants)


@dataclass(frozen=True)
class ItemInfo:
    item_id: str
    candidate_text: str
    baseline_text: str
    candidate_meta: dict[str, Any]
    baseline_meta: dict[str, Any]


@dataclass(frozen=True)
class ReportOptions:
    confidence: float = 0.95
    n_resamples: int = 2000
    seed: str = "report"  # seeds a numpy Generator from a hash of this string
    style_control: bool = False
    judge_families: dict[str, str] = field(default_factory=dict)  # judge -> family
    system_families: dict[str, str] = field(default_factory=dict)  # "candidate"/"baseline" -> family
    exclude_self_preferring: bool = False
    target_difference: float | None = None  # effect size the user wants to detect (win-rate points)



def index_items(items: Sequence[ItemInfo]) -> dict[str, ItemInfo]:
    by_id: dict[str, ItemInfo] = {}
    for i, item in enumerate(items):
        if item.item_id in by_id:
            raise InvalidInput(f"item id '{item.item_id}' appears twice; item ids must be unique",
                               field=f"items[{i}].item_id")
        by_id[item.item_id] = item
    return by_id


def validate_pairwise(records: Sequence[PairwiseRecord], item_by_id: dict[str, ItemInfo]) -> None:
    seen: set[tuple[str, str, str, int]] = set()
    for i, r in enumerate(records):
        where = f"pairwise[{i}]"
        if r.item_id not in item_by_id:
            raise InvalidInput(f"item '{r.item_id}' has verdicts but no ItemInfo; include it in items",
                               field=f"{where}.item_id")
        if r.order not in ORDERS:
            raise InvalidInput(f"order must be 'AB' (baseline first) or 'BA' (candidate first); got {r.order!r}",
                               field=f"{where}.order")
        if r.winner is not None and r.winner not in WINNER_VALUE:
            raise InvalidInput(f"winner must be candidate, baseline, tie or null (unscored); got {r.winner!r}",
                               field=f"{where}.winner")
        if r.prob_candidate is not None and not (0.0 <= r.prob_candidate <= 1.0):
            raise InvalidInput(f"prob_candidate must be in [0, 1] or null; got {r.prob_candidate!r}",
                               field=f"{where}.prob_candidate")
        key = (r.item_id, r.judge, r.order, r.sample_index)
        if key in seen:
            raise InvalidInput(
                f"duplicate verdict for item '{r.item_id}', judge '{r.judge}', order {r.order}, sample "
                f"{r.sample_index}; store each call once (calls of different rubric variants need distinct "
                "sample indexes)", field=where)
        seen.add(key)


def validate_absolute(records: Sequence[AbsoluteRecord], item_by_id: dict[str, ItemInfo]) -> None:
    seen: set[tuple[str, str, str, int]] = set()
    for i, r in enumerate(records):
        where = f"absolute[{i}]"
        if r.item_id not in item_by_id:
            raise InvalidInput(f"item '{r.item_id}' has scores but no ItemInfo; include it in items",
                               field=f"{where}.item_id")
        if r.system not in SYSTEMS:
            raise InvalidInput(f"system must be 'candidate' or 'baseline'; got {r.system!r}", field=f"{where}.system")
        if r.score is not None and not np.isfinite(r.score):
            raise InvalidInput("score must be a finite number or null (unscored)", field=f"{where}.score")
        if any(not np.isfinite(v) for v in r.criteria.values()):
            raise InvalidInput("criterion scores must be finite numbers", field=f"{where}.criteria")
        key = (r.item_id, r.judge, r.system, r.sample_index)
        if key in seen:
            raise InvalidInput(
                f"duplicate score for item '{r.item_id}', judge '{r.judge}', {r.system}, sample "
                f"{r.sample_index}; store each call once", field=where)
        seen.add(key)
