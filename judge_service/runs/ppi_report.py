"""The prediction-powered estimate of the human-scale win rate, when some run items carry a
human verdict: the few human labels correct the judge's bias on the many judged items."""

from __future__ import annotations

import dataclasses

from judge_service.stats.ppi import ppi_mean_ci

_HUMAN_VALUE = {"candidate": 1.0, "baseline": 0.0, "tie": 0.5}


def ppi_win_rate(items: list[dict], results: list[dict | None], spec: dict, confidence: float) -> dict | None:
    """None when no item has a human label; a reason when too few do to say anything."""
    role = {spec["candidate"]: "candidate", spec["baseline"]: "baseline", "tie": "tie"}
    human, judge_labeled, judge_unlabeled = [], [], []
    for item, result in zip(items, results):
        p = ((result or {}).get("pairwise") or {}).get("prob_candidate")
        if p is None:
            continue
        label = item.get("human_preference")
        if label is None:
            judge_unlabeled.append(p)
        else:
            human.append(_HUMAN_VALUE[role[label]])
            judge_labeled.append(p)
    if not human:
        return None
    if len(human) < 2 or len(judge_unlabeled) < 2:
        return {"estimate": None, "reason": f"needs at least 2 human-labelled and 2 other judged items; have "
                                            f"{len(human)} and {len(judge_unlabeled)}"}
    result = ppi_mean_ci(human, judge_labeled, judge_unlabeled, confidence=confidence)
    return {
        "what": "human-scale candidate win rate (ties half), prediction-powered inference",
        "ppi": dataclasses.asdict(result.ppi),
        "human_only": dataclasses.asdict(result.classical),
        "n_human": result.n_labeled,
        "n_judge_only": result.n_unlabeled,
        "judge_bias": result.rectifier,
        "width_ratio": result.width_ratio,
    }
