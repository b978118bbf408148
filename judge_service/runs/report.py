"""The report of a base-vs-candidate run: stored verdict records in, a decision with uncertainty out.

``build_report`` answers "did the candidate beat the baseline?" from the run's pairwise and
absolute verdict records. Every figure carries a CI and its n; the one-line ``verdict`` says
"beats" only when the headline win rate's CI excludes 0.5. The headline is the
length-controlled win rate (style-controlled when asked), because judges prefer longer
answers and a fine-tune usually writes longer ones. Without pairwise verdicts the headline is
the mean absolute-score difference, and "beats" needs its CI to exclude 0.

Conventions
- A pairwise call's value is its ``prob_candidate``, or its winner mapped candidate 1 /
  tie 0.5 / baseline 0 when the probability is missing. Unscored calls (winner None) and
  unscored scores (score None) are excluded and counted, never turned into a loss or a tie.
- An item's soft preference is the mean over its sample indices of the mean of that sample's
  calls (all judges, both orders). With several samples per item, CIs use the two-level
  bootstrap (items, then samples within items).
- Randomness: every bootstrap is seeded from ``options.seed`` plus the figure's name.

Pure functions; no I/O.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from judge_service.bias.length import (
    LengthAdjustedDifference,
    LengthControlledWinRate,
    length_adjusted_difference,
    length_controlled_win_rate,
)
from judge_service.bias.position import PositionBias, position_bias
from judge_service.errors import InvalidInput
from judge_service.stats.agreement import krippendorff_alpha
from judge_service.stats.inference import (
    Estimate,
    PairedDifference,
    bootstrap_mean,
    clustered_bootstrap_mean,
    clustered_paired_difference,
    minimum_detectable_difference,
    paired_difference_from_diffs,
    required_sample_size,
    sign_test,
)

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


# ----------------------------------------------------------------------------- input records
@dataclass(frozen=True)
class PairwiseRecord:
    item_id: str
    judge: str
    order: str  # "AB" = baseline shown first (position A), "BA" = candidate first
    sample_index: int
    winner: str | None  # "candidate" | "baseline" | "tie" | None (unscored by the judge)
    prob_candidate: float | None  # P(candidate better) from this call (ties count half), None if unknown


@dataclass(frozen=True)
class AbsoluteRecord:
    item_id: str
    judge: str
    system: str  # "candidate" | "baseline"
    sample_index: int
    score: float | None  # None = unscored
    criteria: dict[str, float]


@dataclass(frozen=True)
class ItemInfo:
    item_id: str
    candidate_text: str
    baseline_text: str
    candidate_meta: dict
    baseline_meta: dict


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


# ----------------------------------------------------------------------------- report tree
def _opt(x) -> dict | None:
    return x.to_dict() if x is not None else None


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

    def to_dict(self) -> dict:
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
            "length_control": self.length_controlled.to_dict(),
            "style_controlled_win_rate": _opt(self.style_controlled.controlled) if self.style_controlled else None,
            "style_control": _opt(self.style_controlled),
            "position": self.position.to_dict(),
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

    def to_dict(self) -> dict:
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

    def to_dict(self) -> dict:
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
        }


@dataclass(frozen=True)
class Agreement:
    """Krippendorff's alpha between panel judges (None with a note when undefined)."""

    pairwise_alpha: float | None  # units = items, value = judge's item verdict (ordinal 0/0.5/1)
    absolute_alpha: float | None  # units = (item, system), value = judge's mean score (interval)
    n_judges: int
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
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

    def to_dict(self) -> dict:
        return {"flags": [dict(f) for f in self.flags], "excluded_judges": list(self.excluded_judges)}


@dataclass(frozen=True)
class Power:
    metric: str
    sd: float
    n: int
    minimum_detectable_difference: float  # two-sided alpha 0.05, power 0.8
    target_difference: float | None
    n_needed: int | None

    def to_dict(self) -> dict:
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
    options: dict

    def to_dict(self) -> dict:
        return {
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
        }


# ----------------------------------------------------------------------------- entry point
def build_report(
    pairwise: list[PairwiseRecord],
    absolute: list[AbsoluteRecord],
    items: list[ItemInfo],
    options: ReportOptions,
    *,
    length_fn: Callable[[str], float] = len,
) -> RunReport:
    """Turn a run's stored verdicts into the decision report (see module docstring).

    ``length_fn`` measures answer length for length control; characters by default.
    """
    item_by_id = _index_items(items)
    _validate_pairwise(pairwise, item_by_id)
    _validate_absolute(absolute, item_by_id)
    judges = sorted({r.judge for r in pairwise} | {r.judge for r in absolute})

    flags = _self_preference_flags(judges, options)
    excluded = sorted({f["judge"] for f in flags}) if options.exclude_self_preferring else []
    warnings: list[str] = []
    if excluded and len(excluded) == len(judges):
        raise InvalidInput(
            f"every judge ({', '.join(judges)}) shares a family with a system under test; add a judge from "
            "another family or set exclude_self_preferring to false",
            field="exclude_self_preferring",
        )
    for f in flags:
        action = "excluded from every figure" if f["judge"] in excluded else (
            "its verdicts may favour that system; set exclude_self_preferring to drop it")
        warnings.append(f"self-preference: judge '{f['judge']}' is in the {f['system']}'s family "
                        f"'{f['family']}'; {action}")
    kept_pairwise = [r for r in pairwise if r.judge not in excluded]
    kept_absolute = [r for r in absolute if r.judge not in excluded]

    pair_summary = _pairwise_summary(kept_pairwise, item_by_id, options, length_fn)
    abs_summary = _absolute_summary(kept_absolute, item_by_id, options, length_fn)
    warnings.extend(_section_warnings(pair_summary, abs_summary))
    if kept_pairwise and pair_summary is None:
        warnings.append(f"all {len(kept_pairwise)} pairwise calls are unscored; no win rate can be computed — "
                        "check the judges' reply format or parser")
    if kept_absolute and (abs_summary is None or abs_summary.score_difference is None):
        warnings.append("no item has scores for both systems from the same judge and sample; no score "
                        "difference can be computed — check for unscored replies")
    parity = _arm_parity(items)
    warnings.extend(parity)
    breakdown = [
        _judge_breakdown(j, pairwise, absolute, options, flags, excluded) for j in judges
    ]
    agreement = _agreement(kept_pairwise, kept_absolute, [j for j in judges if j not in excluded])
    power = _power(pair_summary, abs_summary, options)
    headline_metric, headline = _headline(pair_summary, abs_summary)
    verdict = _verdict(headline_metric, headline, pair_summary, power)
    return RunReport(
        n_items=len(items),
        verdict=verdict,
        headline_metric=headline_metric,
        headline=headline,
        pairwise=pair_summary,
        absolute=abs_summary,
        judges=breakdown,
        agreement=agreement,
        self_preference=SelfPreference(flags, excluded),
        arm_parity=parity,
        power=power,
        warnings=warnings,
        options={
            "confidence": options.confidence,
            "n_resamples": options.n_resamples,
            "seed": options.seed,
            "style_control": options.style_control,
            "exclude_self_preferring": options.exclude_self_preferring,
            "target_difference": options.target_difference,
            "length_unit": "characters" if length_fn is len else getattr(length_fn, "__name__", "custom"),
        },
    )


# ----------------------------------------------------------------------------- validation
def _index_items(items: Sequence[ItemInfo]) -> dict[str, ItemInfo]:
    by_id: dict[str, ItemInfo] = {}
    for i, item in enumerate(items):
        if item.item_id in by_id:
            raise InvalidInput(f"item id '{item.item_id}' appears twice; item ids must be unique",
                               field=f"items[{i}].item_id")
        by_id[item.item_id] = item
    return by_id


def _validate_pairwise(records: Sequence[PairwiseRecord], item_by_id: dict[str, ItemInfo]) -> None:
    seen: set[tuple] = set()
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
                f"{r.sample_index}; store each call once", field=where)
        seen.add(key)


def _validate_absolute(records: Sequence[AbsoluteRecord], item_by_id: dict[str, ItemInfo]) -> None:
    seen: set[tuple] = set()
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


# ----------------------------------------------------------------------------- pairwise
def call_value(record: PairwiseRecord) -> float | None:
    """P(candidate better) for one call: its probability, else its winner as 1/0.5/0."""
    if record.winner is None:
        return None
    return record.prob_candidate if record.prob_candidate is not None else WINNER_VALUE[record.winner]


def item_units(records: Sequence[PairwiseRecord]) -> dict[str, list[float]]:
    """item -> per-sample-index means of its scored calls (all judges, both orders)."""
    grouped: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        value = call_value(r)
        if value is not None:
            grouped[r.item_id][r.sample_index].append(value)
    return {item: [float(np.mean(v)) for _, v in sorted(samples.items())] for item, samples in grouped.items()}


def _item_estimate(units: dict[str, list[float]], options: ReportOptions, seed: str) -> Estimate | None:
    if not units:
        return None
    groups = list(units.values())
    common = dict(confidence=options.confidence, n_resamples=options.n_resamples, seed=f"{options.seed}/{seed}")
    if max(len(g) for g in groups) > 1:
        return clustered_bootstrap_mean(groups, **common)
    return bootstrap_mean([g[0] for g in groups], **common)


def _pairwise_summary(
    records: Sequence[PairwiseRecord], item_by_id: dict[str, ItemInfo], options: ReportOptions,
    length_fn: Callable[[str], float],
) -> PairwiseSummary | None:
    if not records:
        return None
    units = item_units(records)
    n_unscored = sum(r.winner is None for r in records)
    if not units:
        return None  # every call unscored: build_report says so in warnings
    item_ids = sorted(units)
    prefs = np.array([np.mean(units[i]) for i in item_ids])
    wins = int(np.sum(prefs > 0.5 + TIE_TOLERANCE))
    losses = int(np.sum(prefs < 0.5 - TIE_TOLERANCE))
    ties = len(prefs) - wins - losses
    raw = _item_estimate(units, options, "win_rate")
    raw = Estimate(raw.estimate, raw.ci_low, raw.ci_high, raw.n, sign_test(wins, losses))
    by_order = {}
    for order in ORDERS:
        est = _item_estimate(item_units([r for r in records if r.order == order]), options, f"win_rate/{order}")
        if est is not None:
            by_order[order] = est
    cand_texts = [item_by_id[i].candidate_text for i in item_ids]
    base_texts = [item_by_id[i].baseline_text for i in item_ids]
    common = dict(length_fn=length_fn, confidence=options.confidence, n_resamples=options.n_resamples, raw=raw)
    lc = length_controlled_win_rate(prefs, cand_texts, base_texts, seed=f"{options.seed}/lc", **common)
    sc = (
        length_controlled_win_rate(prefs, cand_texts, base_texts, style_control=True, seed=f"{options.seed}/sc", **common)
        if options.style_control else None
    )
    pooled = position_bias(records, confidence=options.confidence, n_resamples=options.n_resamples,
                           seed=f"{options.seed}/position")
    return PairwiseSummary(
        n_items=len(item_ids),
        n_scored_calls=len(records) - n_unscored,
        n_unscored_calls=n_unscored,
        items_without_scored_call=len({r.item_id for r in records} - set(units)),
        wins=wins, ties=ties, losses=losses,
        win_rate=raw,
        win_rate_by_order=by_order,
        length_controlled=lc,
        style_controlled=sc,
        position=pooled,
        item_preferences=tuple(float(v) for v in prefs),
    )


# ----------------------------------------------------------------------------- absolute
def _difference_units(records: Sequence[AbsoluteRecord], criterion: str | None) -> dict[str, list[float]]:
    """item -> per-sample means of (candidate − baseline), paired within (judge, sample)."""
    cells: dict[tuple[str, str, int], dict[str, float]] = defaultdict(dict)
    for r in records:
        if r.score is None:
            continue
        value = r.score if criterion is None else r.criteria.get(criterion)
        if value is not None:
            cells[(r.item_id, r.judge, r.sample_index)][r.system] = float(value)
    grouped: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for (item_id, _, sample), by_system in cells.items():
        if len(by_system) == 2:
            grouped[item_id][sample].append(by_system["candidate"] - by_system["baseline"])
    return {item: [float(np.mean(v)) for _, v in sorted(s.items())] for item, s in grouped.items()}


def _paired(units: dict[str, list[float]], options: ReportOptions, seed: str) -> PairedDifference | None:
    if not units:
        return None
    groups = list(units.values())
    common = dict(confidence=options.confidence, n_resamples=options.n_resamples, seed=f"{options.seed}/{seed}")
    if max(len(g) for g in groups) > 1:
        return clustered_paired_difference(groups, **common)
    return paired_difference_from_diffs([g[0] for g in groups], **common)


def _absolute_summary(
    records: Sequence[AbsoluteRecord], item_by_id: dict[str, ItemInfo], options: ReportOptions,
    length_fn: Callable[[str], float],
) -> AbsoluteSummary | None:
    if not records:
        return None
    overall_units = _difference_units(records, None)
    criteria_names = sorted({c for r in records if r.score is not None for c in r.criteria})
    criteria = {}
    for name in criteria_names:
        diff = _paired(_difference_units(records, name), options, f"criterion/{name}")
        if diff is not None:
            criteria[name] = diff
    length = None
    ids = sorted(overall_units)
    item_differences = tuple(float(np.mean(overall_units[i])) for i in ids)
    if overall_units:
        length = length_adjusted_difference(
            item_differences,
            [item_by_id[i].candidate_text for i in ids], [item_by_id[i].baseline_text for i in ids],
            length_fn=length_fn, confidence=options.confidence, n_resamples=options.n_resamples,
            seed=f"{options.seed}/absolute_length",
        )
    return AbsoluteSummary(
        n_items=len(overall_units),
        n_unscored_records=sum(r.score is None for r in records),
        items_unpaired=len({r.item_id for r in records} - set(overall_units)),
        score_difference=_paired(overall_units, options, "score"),
        criteria=criteria,
        length=length,
        item_differences=item_differences,
    )


# ----------------------------------------------------------------------------- judges, panel
def _self_preference_flags(judges: Sequence[str], options: ReportOptions) -> list[dict[str, str]]:
    flags = []
    for judge in judges:
        family = options.judge_families.get(judge)
        for system in SYSTEMS:
            if family is not None and options.system_families.get(system) == family:
                flags.append({"judge": judge, "system": system, "family": family})
    return flags


def _judge_breakdown(
    judge: str, pairwise: Sequence[PairwiseRecord], absolute: Sequence[AbsoluteRecord], options: ReportOptions,
    flags: list[dict[str, str]], excluded: list[str],
) -> JudgeBreakdown:
    mine_p = [r for r in pairwise if r.judge == judge]
    mine_a = [r for r in absolute if r.judge == judge]
    position = (
        position_bias(mine_p, confidence=options.confidence, n_resamples=options.n_resamples,
                      seed=f"{options.seed}/position/{judge}")
        if mine_p else None
    )
    diff = _paired(_difference_units(mine_a, None), options, f"judge/{judge}/score")
    return JudgeBreakdown(
        judge=judge,
        family=options.judge_families.get(judge),
        win_rate=_item_estimate(item_units(mine_p), options, f"judge/{judge}/win_rate"),
        position=position,
        score_difference=diff.difference if diff else None,
        n_pairwise_calls=len(mine_p),
        n_absolute_records=len(mine_a),
        unscored=sum(r.winner is None for r in mine_p) + sum(r.score is None for r in mine_a),
        self_preferring_for=[f["system"] for f in flags if f["judge"] == judge],
        excluded=judge in excluded,
    )


def _agreement(pairwise: Sequence[PairwiseRecord], absolute: Sequence[AbsoluteRecord], judges: list[str]) -> Agreement:
    notes: list[str] = []
    pair_alpha = abs_alpha = None
    pair_judges = sorted({r.judge for r in pairwise})
    if len(pair_judges) >= 2:
        per_judge = {j: item_units([r for r in pairwise if r.judge == j]) for j in pair_judges}
        item_ids = sorted(set().union(*per_judge.values()))
        matrix = np.full((len(pair_judges), len(item_ids)), np.nan)
        for a, j in enumerate(pair_judges):
            for u, item in enumerate(item_ids):
                if item in per_judge[j]:
                    pref = np.mean(per_judge[j][item])
                    # The judge's verdict on the item after both orders: who won, or a tie.
                    matrix[a, u] = 1.0 if pref > 0.5 + TIE_TOLERANCE else 0.0 if pref < 0.5 - TIE_TOLERANCE else 0.5
        pair_alpha = _alpha_or_note(matrix, "ordinal", "pairwise", notes)
    elif pairwise:
        notes.append("pairwise: one judge; agreement needs a panel of two or more")
    abs_judges = sorted({r.judge for r in absolute})
    if len(abs_judges) >= 2:
        sums: dict[tuple[str, str, str], list[float]] = defaultdict(list)
        for r in absolute:
            if r.score is not None:
                sums[(r.judge, r.item_id, r.system)].append(r.score)
        units = sorted({(item, system) for (_, item, system) in sums})
        matrix = np.full((len(abs_judges), len(units)), np.nan)
        for a, j in enumerate(abs_judges):
            for u, (item, system) in enumerate(units):
                if (j, item, system) in sums:
                    matrix[a, u] = float(np.mean(sums[(j, item, system)]))
        abs_alpha = _alpha_or_note(matrix, "interval", "absolute", notes)
    elif absolute:
        notes.append("absolute: one judge; agreement needs a panel of two or more")
    return Agreement(pair_alpha, abs_alpha, len(judges), notes)


def _alpha_or_note(matrix: np.ndarray, level: str, label: str, notes: list[str]) -> float | None:
    try:
        alpha = float(krippendorff_alpha(matrix, level))
    except InvalidInput as exc:
        notes.append(f"{label}: alpha undefined ({exc.message})")
        return None
    return alpha if np.isfinite(alpha) else None


def _section_warnings(pair: PairwiseSummary | None, absolute: AbsoluteSummary | None) -> list[str]:
    out: list[str] = []
    if pair:
        out.extend(pair.length_controlled.warnings)
        if pair.style_controlled:
            out.extend(pair.style_controlled.warnings)
        total = pair.n_scored_calls + pair.n_unscored_calls
        if pair.n_unscored_calls > UNSCORED_WARNING * total:
            out.append(f"{pair.n_unscored_calls} of {total} pairwise calls were unscored (excluded, not counted as "
                       "ties); check the judge's reply format or parser before trusting the figures")
    if absolute:
        if absolute.length:
            out.extend(absolute.length.warnings)
        named = ([("score", absolute.score_difference)] if absolute.score_difference else []) + list(
            absolute.criteria.items())
        out.extend(f"{name}: {diff.note}" for name, diff in named if diff.note)
    return out


# ----------------------------------------------------------------------------- arm parity
def _arm_parity(items: Sequence[ItemInfo]) -> list[str]:
    """One warning per metadata key (other than model identity) that differs between arms."""
    differing: dict[str, list[tuple[object, object]]] = defaultdict(list)
    for item in items:
        keys = (set(item.candidate_meta) | set(item.baseline_meta)) - MODEL_IDENTITY_KEYS
        for key in keys:
            c, b = item.candidate_meta.get(key, _MISSING), item.baseline_meta.get(key, _MISSING)
            if c != b:
                differing[key].append((c, b))
    out = []
    for key in sorted(differing):
        c, b = differing[key][0]
        why = (" — a mismatched chat template silently invalidates a base-vs-tuned comparison"
               if "template" in key else "")
        out.append(
            f"arm parity: '{key}' differs between candidate and baseline in {len(differing[key])} of {len(items)} "
            f"items (e.g. candidate {_short(c)} vs baseline {_short(b)}){why}; regenerate both arms with the same {key}"
        )
    return out


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# ----------------------------------------------------------------------------- decision
def _power(pair: PairwiseSummary | None, absolute: AbsoluteSummary | None, options: ReportOptions) -> list[Power]:
    """MDE at this n from the observed item-level SD, and the n a named difference needs."""
    series = []
    if pair:
        series.append(("win_rate", np.asarray(pair.item_preferences)))
    if absolute and absolute.item_differences:
        series.append(("score_difference", np.asarray(absolute.item_differences)))
    out = []
    target = options.target_difference
    for metric, values in series:
        if values.size < 2:
            continue  # an SD needs two items
        sd = float(np.std(values, ddof=1))
        n_needed = None
        # target_difference is in win-rate points, so it sizes the pairwise comparison only.
        if target is not None and metric == "win_rate":
            n_needed = required_sample_size(sd, target) if sd > 0 else 1
        out.append(Power(metric, sd, int(values.size), minimum_detectable_difference(sd, int(values.size)),
                         target if metric == "win_rate" else None, n_needed))
    return out


def _headline(pair: PairwiseSummary | None, absolute: AbsoluteSummary | None) -> tuple[str | None, Estimate | None]:
    """The figure the verdict rests on: the controlled win rate, else the mean score difference."""
    if pair:
        if pair.style_controlled:
            return "style-controlled win rate", pair.style_controlled.controlled
        return "LC win rate", pair.length_controlled.controlled
    if absolute and absolute.score_difference:
        return "mean score difference", absolute.score_difference.difference
    return None, None


def _fmt_p(p: float | None) -> str:
    if p is None:
        return "p = n/a"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


MIN_ITEMS_FOR_VERDICT = 10


def _verdict(metric: str | None, headline: Estimate | None, pair: PairwiseSummary | None,
             power: list[Power]) -> str:
    """"Beats" only when the headline CI excludes no-difference (0.5 win rate, 0 score gap)."""
    if headline is None or metric is None:
        return "no scored items: nothing to decide"
    null = 0.5 if pair else 0.0
    n = headline.n
    if metric == "LC win rate" and pair and not pair.length_controlled.identified:
        raw = pair.win_rate
        return (f"undetermined at n = {n}: the judge preferred the longer answer on every item, so quality cannot "
                f"be told from length (raw win rate {raw.estimate:.2f} [{raw.ci_low:.2f}, {raw.ci_high:.2f}] is "
                f"length-confounded)")
    if not headline.excludes(null):
        wanted = "win_rate" if pair else "score_difference"
        mde = next((p.minimum_detectable_difference for p in power if p.metric == wanted), None)
        if mde is None:
            return f"no detectable difference at n = {n} (too few items to estimate uncertainty)"
        return f"no detectable difference at n = {n} (±{mde:.2f})"
    if n < MIN_ITEMS_FOR_VERDICT:
        return (f"too few items to claim a difference: n = {n}; a bootstrap interval needs at least "
                f"{MIN_ITEMS_FOR_VERDICT} items to mean anything (see 'power' for how many you need)")
    direction = "candidate beats baseline" if headline.ci_low > null else "baseline beats candidate"
    if pair:
        p = pair.win_rate.p_value
        figure = f"{headline.estimate:.2f} [{headline.ci_low:.2f}, {headline.ci_high:.2f}]"
    else:
        p = headline.p_value
        figure = f"{headline.estimate:+.2f} [{headline.ci_low:+.2f}, {headline.ci_high:+.2f}]"
    line = f"{direction}: {metric} {figure}, {_fmt_p(p)}, n = {n}"
    if pair and pair.position.position_consistency is not None:
        line += f", position consistency {pair.position.position_consistency.estimate:.2f}"
    return line
