"""A rubric pilot's report: the observations of every variant × judge × sample in, the figures out.

Pure; no I/O. ``pilot/service.py`` collects the observations from the engine. What the figures mean
and which test raises the **wording-sensitive** flag is in ``stats/wording.py``.

Which variant is *most stable*: the smallest spread between repeat samples (the judges' own noise
under that wording); without repeat samples, for pairs, the highest position consistency.
*Most discriminating*: the largest spread of item means relative to that noise (how far apart the
wording sets items that differ); without repeat samples, the spread of item means alone.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from judge_service.stats.agreement import krippendorff_alpha
from judge_service.stats.estimate import Estimate
from judge_service.stats.inference import bootstrap_mean, paired_difference
from judge_service.stats.wording import ScoreDistribution, WordingTest, score_distribution, wording_test


@dataclass(frozen=True)
class ScoreObservation:
    """One absolute call's score (the overall, criterion-weighted score)."""

    item_id: str
    variant: str
    judge: str
    sample_index: int
    score: float | None


@dataclass(frozen=True)
class PairObservation:
    """One judge's sample on one pair, both orders reconciled: P(A better) averaged over the orders."""

    item_id: str
    variant: str
    judge: str
    sample_index: int
    prob_a: float | None
    consistent: bool | None  # the two orders gave the same winner


@dataclass(frozen=True)
class PilotInputs:
    variants: list[str]  # the first is the reference the others are compared with
    judges: list[str]
    samples: int
    scale: tuple[int, int]
    scores: list[ScoreObservation]
    pairs: list[PairObservation]
    human_scores: dict[str, float] = field(default_factory=dict)  # item -> a human's score
    human_preferences: dict[str, str] = field(default_factory=dict)  # item -> "A" | "B" | "tie"
    cost_by_variant: dict[str, float | None] = field(default_factory=dict)
    confidence: float = 0.95
    n_resamples: int = 2000
    alpha: float = 0.05
    seed: str = "pilot"


def _estimate(e: Estimate | None) -> dict[str, Any] | None:
    return None if e is None else e.to_dict()


def _distribution(d: ScoreDistribution) -> dict[str, Any]:
    return {"n": d.n, "mean": d.mean, "sd": d.sd, "histogram": {str(k): v for k, v in d.histogram.items()},
            "floor_share": d.floor_share, "ceiling_share": d.ceiling_share, "unused_points": d.unused_points}


def _test(t: WordingTest | None) -> dict[str, Any] | None:
    if t is None:
        return None
    finite_f = t.f_statistic if t.f_statistic is None or np.isfinite(t.f_statistic) else None
    return {"sensitive": t.sensitive, "p_value": t.p_value, "f_statistic": finite_f,
            "df": list(t.df) if t.df else None, "basis": t.basis, "alpha": t.alpha, "noise_sd": t.noise_sd,
            "wording_sd": t.wording_sd, "n_items": t.n_items, "n_variants": t.n_variants, "n_samples": t.n_samples}


def _cube(values: dict[tuple[str, str, int], list[float]], items: list[str], variants: list[str],
          samples: int) -> np.ndarray:
    """items × variants × samples of the judges' mean (NaN where nothing was scored)."""
    cube = np.full((len(items), len(variants), samples), np.nan)
    for i, item in enumerate(items):
        for v, variant in enumerate(variants):
            for k in range(samples):
                got = values.get((item, variant, k))
                if got:
                    cube[i, v, k] = float(np.mean(got))
    return cube


def _noise_sd(cube_v: np.ndarray) -> float | None:
    """Pooled within-item sd between repeat samples of one variant (items × samples)."""
    rows = cube_v[np.all(np.isfinite(cube_v), axis=1)]
    if rows.shape[1] < 2 or rows.shape[0] == 0:
        return None
    return float(np.sqrt(np.mean(rows.var(axis=1, ddof=1))))


def _section(inputs: PilotInputs, kind: str) -> dict[str, Any] | None:
    obs: Sequence[ScoreObservation | PairObservation] = inputs.scores if kind == "absolute" else inputs.pairs
    if not obs:
        return None
    values: dict[tuple[str, str, int], list[float]] = defaultdict(list)
    for o in obs:
        value = o.score if isinstance(o, ScoreObservation) else o.prob_a
        if value is not None:
            values[(o.item_id, o.variant, o.sample_index)].append(value)
    items = sorted({o.item_id for o in obs})
    variants = inputs.variants
    cube = _cube(values, items, variants, inputs.samples)
    with warnings.catch_warnings():  # a cell with no scored sample is NaN, as intended
        warnings.simplefilter("ignore", RuntimeWarning)
        item_means = np.nanmean(cube, axis=2) if cube.size else cube  # items × variants
    seed = f"{inputs.seed}/{kind}"
    per_variant: dict[str, dict[str, Any]] = {}
    for v, variant in enumerate(variants):
        flat = [val for (_, var, _), vals in values.items() if var == variant for val in vals]
        col = item_means[:, v]
        col = col[np.isfinite(col)]
        noise = _noise_sd(cube[:, v, :])
        spread = float(col.std(ddof=1)) if col.size > 1 else None
        entry: dict[str, Any] = {
            "n_items": int(col.size), "noise_sd": noise, "item_spread_sd": spread,
            "discrimination": (spread / noise if spread is not None and noise else spread),
            "cost_usd": inputs.cost_by_variant.get(variant),
            "unscored_calls": sum(1 for o in obs if o.variant == variant and
                                  (o.score if isinstance(o, ScoreObservation) else o.prob_a) is None),
        }
        if kind == "absolute":
            entry["distribution"] = _distribution(score_distribution(flat, inputs.scale))
            entry["human_agreement"] = _human_scores(item_means[:, v], items, inputs.human_scores)
        else:
            entry["mean_prob_a"] = float(col.mean()) if col.size else None
            entry["position_consistency"] = _estimate(_consistency(
                [o for o in inputs.pairs if o.variant == variant], inputs, f"{seed}/{variant}/position"))
            entry["human_agreement"] = _human_votes(item_means[:, v], items, inputs.human_preferences)
        per_variant[variant] = entry
    differences = []
    reference = variants[0]
    for v, variant in enumerate(variants[1:], start=1):
        both = np.isfinite(item_means[:, 0]) & np.isfinite(item_means[:, v])
        if both.sum() < 2:
            continue
        diff = paired_difference(item_means[both, v], item_means[both, 0], confidence=inputs.confidence,
                                 n_resamples=inputs.n_resamples, seed=f"{seed}/diff/{variant}")
        differences.append({"variant": variant, "vs": reference, "difference": diff.to_dict(),
                            "excludes_zero": diff.difference.excludes(0.0)})
    test = wording_test(cube, alpha=inputs.alpha) if len(variants) > 1 and _complete_items(cube) >= 2 else None
    level = "interval"
    alpha_value = None
    if len(variants) > 1:
        ratings = item_means.T  # raters (variants) × units (items)
        if kind == "pairwise":
            # A variant's verdict on a pair: which response it prefers on average (ties: within 0.05 of 0.5).
            ratings = np.where(np.isfinite(ratings), np.where(ratings > 0.55, 1.0, np.where(ratings < 0.45, 0.0, 0.5)),
                               np.nan)
            level = "nominal"
        if np.sum(np.isfinite(ratings).sum(axis=0) >= 2) >= 1 and np.unique(ratings[np.isfinite(ratings)]).size > 1:
            alpha_value = krippendorff_alpha(ratings, level)
    return {"n_items": len(items), "per_variant": per_variant, "differences": differences,
            "agreement_between_variants": {"krippendorff_alpha": alpha_value, "level": level},
            "wording_test": _test(test), "_test": test}


def _complete_items(cube: np.ndarray) -> int:
    return int(np.sum(np.all(np.isfinite(cube), axis=(1, 2)))) if cube.size else 0


def _consistency(pairs: list[PairObservation], inputs: PilotInputs, seed: str) -> Estimate | None:
    by_item: dict[str, list[float]] = defaultdict(list)
    for o in pairs:
        if o.consistent is not None:
            by_item[o.item_id].append(1.0 if o.consistent else 0.0)
    if not by_item:
        return None
    return bootstrap_mean([float(np.mean(v)) for v in by_item.values()], confidence=inputs.confidence,
                          n_resamples=inputs.n_resamples, seed=seed)


def _human_scores(means: np.ndarray, items: list[str], human: dict[str, float]) -> dict[str, Any] | None:
    pairs = [(float(means[i]), human[item]) for i, item in enumerate(items) if item in human and np.isfinite(means[i])]
    if len(pairs) < 3:
        return None
    a, b = np.array(pairs).T
    if np.unique(a).size < 2 or np.unique(b).size < 2:
        return {"n": len(pairs), "spearman": None, "pearson": None, "mean_abs_error": float(np.mean(np.abs(a - b)))}
    return {"n": len(pairs), "spearman": float(stats.spearmanr(a, b).statistic),
            "pearson": float(stats.pearsonr(a, b).statistic), "mean_abs_error": float(np.mean(np.abs(a - b)))}


def _human_votes(means: np.ndarray, items: list[str], human: dict[str, str]) -> dict[str, Any] | None:
    votes = [("A" if means[i] > 0.55 else "B" if means[i] < 0.45 else "tie", human[item])
             for i, item in enumerate(items) if item in human and np.isfinite(means[i])]
    if not votes:
        return None
    return {"n": len(votes), "accuracy": sum(a == b for a, b in votes) / len(votes)}


def _best(per_variant: dict[str, dict[str, Any]], key: str, *, lowest: bool) -> str | None:
    scored = [(v, e[key]) for v, e in per_variant.items() if e.get(key) is not None]
    if not scored:
        return None
    return (min if lowest else max)(scored, key=lambda t: t[1])[0]


def pilot_report(inputs: PilotInputs) -> dict[str, Any]:
    """The pilot's figures per variant, the wording-sensitivity flag and which variant to prefer."""
    sections = {kind: _section(inputs, kind) for kind in ("absolute", "pairwise")}
    tests = [s.pop("_test") for s in sections.values() if s is not None]
    sensitive = any(t is not None and t.sensitive for t in tests)
    stable = discriminating = None
    for s in (sections["absolute"], sections["pairwise"]):
        if s is None:
            continue
        stable = stable or _best(s["per_variant"], "noise_sd", lowest=True)
        discriminating = discriminating or _best(s["per_variant"], "discrimination", lowest=False)
    if stable is None and sections["pairwise"] is not None:
        consistency = {v: (e["position_consistency"] or {}).get("estimate")
                       for v, e in sections["pairwise"]["per_variant"].items()}
        known = {v: c for v, c in consistency.items() if c is not None}
        stable = max(known, key=lambda v: known[v]) if known else None
    warnings: list[str] = []
    if inputs.samples < 2:
        warnings.append("samples=1: the judges' own noise is not measured, so wording sensitivity is tested against "
                        "item-to-item variation only; send samples >= 2 with temperature > 0")
    if len(inputs.variants) < 2:
        warnings.append("only one variant: nothing to compare; name two or more (or 'all')")
    costs = list(inputs.cost_by_variant.values())
    return {
        "wording_sensitive": sensitive,
        "most_stable_variant": stable,
        "most_discriminating_variant": discriminating,
        "verdict": _verdict(sensitive, sections, inputs, stable, discriminating),
        "absolute": sections["absolute"],
        "pairwise": sections["pairwise"],
        "cost": {"usd": None if any(c is None for c in costs) else float(sum(c for c in costs if c is not None)),
                 "by_variant": dict(inputs.cost_by_variant)},
        "warnings": warnings,
    }


def _verdict(sensitive: bool, sections: dict[str, dict[str, Any] | None], inputs: PilotInputs,
             stable: str | None, discriminating: str | None) -> str:
    shifts = []
    for s in sections.values():
        for d in (s or {}).get("differences", []):
            e = d["difference"]
            if d["excludes_zero"]:
                shifts.append(f"'{d['variant']}' vs '{d['vs']}' {e['estimate']:+.2f} [{e['ci_low']:+.2f}, {e['ci_high']:+.2f}]")
    head = ("wording-sensitive: the variants disagree beyond the judges' own noise"
            if sensitive else "not wording-sensitive: the variants agree within the judges' own noise")
    parts = [head]
    if shifts:
        parts.append("shifts " + "; ".join(shifts))
    if stable:
        parts.append(f"most stable '{stable}'")
    if discriminating:
        parts.append(f"most discriminating '{discriminating}'")
    return ", ".join(parts)
