"""Extrapolation diagnostics for every control feature of the controlled win rate.

The GLM predicts the win rate at "no difference" in each control feature (equal length, equal
markdown). When one side is longer, or carries more headers, list items or bold, on nearly every
item, that point lies outside the data and the controlled figure rests on the model's form
(issue 14 §3: style control moved 0.46–0.66 across seeds for a truth of 0.5 with markdown on one
side only). Pure; no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from judge_service.bias.length import EXTRAPOLATION_SHARE, STYLE_FEATURES, style_features


def control_extrapolation(candidate_texts: Sequence[str], baseline_texts: Sequence[str], *,
                          style_control: bool, length_fn: Callable[[str], float] = len) -> list[str]:
    """One sentence per control feature whose zero difference lies outside (or at the edge of) the data.

    A feature extrapolates when fewer than ``EXTRAPOLATION_SHARE`` of the items are on the
    minority side of zero or at zero; a feature that is zero everywhere is not a control at all
    and is skipped.
    """
    columns: list[tuple[str, np.ndarray]] = [
        ("length", np.array([length_fn(c) - length_fn(b) for c, b in zip(candidate_texts, baseline_texts)],
                            dtype=float))]
    if style_control:
        feats = style_features(candidate_texts, baseline_texts)
        columns += [(name, feats[:, j]) for j, name in enumerate(STYLE_FEATURES)]
    out = []
    n = len(candidate_texts)
    for name, diff in columns:
        if n == 0 or not np.any(diff != 0):
            continue
        more, fewer = int(np.sum(diff > 0)), int(np.sum(diff < 0))
        side = "candidate" if more >= fewer else "baseline"
        majority = max(more, fewer)
        if n - majority < EXTRAPOLATION_SHARE * n:
            what = "is longer" if name == "length" else f"has more {name.replace('_', ' ')}"
            out.append(f"the {side} {what} on {majority} of {n} items")
    return out
