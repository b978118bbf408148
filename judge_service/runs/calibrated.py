"""A run's absolute panel scores on the human scale of its calibration, and their paired difference."""

from __future__ import annotations

from typing import Any

from judge_service.runs.records import ItemResult
from judge_service.stats.calibrate import apply_mapping
from judge_service.stats.inference import paired_difference


def calibrated_scores(cal_id: str, mapping: dict[str, Any], results: list[ItemResult | None], *, confidence: float,
                      n_resamples: int, seed: str) -> dict[str, Any]:
    """Items where both systems have a panel score, mapped through ``mapping``; ``reason`` when too few."""
    pairs = [(r.absolute.candidate.score, r.absolute.baseline.score) for r in results
             if r is not None and r.absolute is not None]
    both = [(c, b) for c, b in pairs if c is not None and b is not None]
    out: dict[str, Any] = {"calibration_id": cal_id, "n": len(both)}
    if len(both) < 2:
        return out | {"reason": "needs at least two items with both systems scored"}
    cand = apply_mapping(mapping, [c for c, _ in both])
    base = apply_mapping(mapping, [b for _, b in both])
    diff = paired_difference(cand, base, confidence=confidence, n_resamples=n_resamples, seed=f"{seed}/calibrated")
    return out | {"candidate_mean": float(cand.mean()), "baseline_mean": float(base.mean()), "difference": diff.to_dict()}
