"""The prediction-powered estimate of the human-scale win rate, when some run items carry a
human verdict: the few human labels correct the judge's bias on the many judged items."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from judge_service.stats.ppi import ppi_mean_ci

_HUMAN_VALUE = {"candidate": 1.0, "baseline": 0.0, "tie": 0.5}


def ppi_win_rate(items: Sequence[dict[str, Any]], results: Sequence[dict[str, Any] | None], spec: dict[str, Any],
                 confidence: float) -> dict[str, Any] | None:
    """None when no item has a human label; a reason when too few do to say anything."""
    role = {spec["candidate"]: "candidate", spec["baseline"]: "baseline", "tie": "tie"}
    human: list[float] = []
    judge_labeled: list[float] = []
    judge_unlabeled: list[float] = []
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
    ppi = ppi_mean_ci(human, judge_labeled, judge_unlabeled, confidence=confidence)
    return {
        "what": "human-scale candidate win rate (ties half), prediction-powered inference",
        "ppi": ppi.ppi.to_dict() | {"std_error": ppi.ppi_se, "confidence": ppi.confidence},
        "human_only": ppi.classical.to_dict() | {"std_error": ppi.classical_se, "confidence": ppi.confidence},
        "n_human": ppi.n_labeled,
        "n_judge_only": ppi.n_unlabeled,
        "judge_bias": ppi.rectifier,
        "width_ratio": ppi.width_ratio,
    }
