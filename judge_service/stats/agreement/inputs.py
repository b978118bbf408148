"""Vocabularies and input checks shared by every agreement statistic: label scales, vote spellings."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from judge_service.errors import InvalidInput, LabelSetMismatch

ALPHA_LEVELS = ("nominal", "ordinal", "interval", "ratio")
VOTES = ("A", "B", "tie")
LEVELS = ("pooled", "grouped", "system")
KENDALL_VARIANTS = ("b", "c")
# Positional agreement below this share of the chance level means the second order's votes were
# most likely sent in display positions, not mapped back to the original A/B identities.
POSITIONAL_WARNING_RATIO = 0.5
_BATCH_CELLS = 2_000_000  # resampled indices held at once: bounds the bootstrap's memory on large inputs


def _as_scores(values: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise InvalidInput(f"'{name}' must be a list of numbers", field=name) from None
    if arr.ndim != 1:
        raise InvalidInput(f"'{name}' must be a flat list of numbers", field=name)
    if not np.isfinite(arr).all():
        raise InvalidInput(f"'{name}' contains a missing or infinite value; drop items either side did not score",
                           field=name)
    return arr


def _check_pair(a: np.ndarray, b: np.ndarray, other: str = "b") -> None:
    if len(a) != len(b):
        raise InvalidInput(f"'a' has {len(a)} items but '{other}' has {len(b)}; they must be paired item by item",
                           field=other)
    if len(a) < 2:
        raise InvalidInput(f"agreement needs at least 2 items; got {len(a)}", field="a")


def check_scale(labels: Sequence[float]) -> np.ndarray:
    """The ordinal scale as a sorted float array; it must list at least two distinct numbers."""
    scale = np.asarray(labels, dtype=float)
    if scale.ndim != 1 or scale.size < 2 or not np.isfinite(scale).all():
        raise InvalidInput("'labels' must list the scale's values, at least two numbers, e.g. [1, 2, 3, 4, 5]",
                           field="labels")
    if np.unique(scale).size != scale.size or (np.diff(scale) < 0).any():
        raise InvalidInput("'labels' must be distinct and in increasing order, e.g. [1, 2, 3, 4, 5]", field="labels")
    return scale


def check_on_scale(values: np.ndarray, scale: np.ndarray, name: str) -> None:
    """Raise LabelSetMismatch naming the values of ``values`` that are not on ``scale``."""
    unexpected = np.setdiff1d(np.unique(values), scale)
    if unexpected.size:
        shown = ", ".join(_fmt(v) for v in unexpected[:10]) + (" ..." if unexpected.size > 10 else "")
        raise LabelSetMismatch(
            f"'{name}' has labels not on the scale [{', '.join(_fmt(v) for v in scale)}]: {shown}. "
            "Map them onto the scale (e.g. 0/1 vs 1/2 is a shift) or send the scale they use in 'labels'."
            + (" Fractional values look like averaged scores: send kind: \"interval\" (no scale needed)."
               if not all(float(v).is_integer() for v in unexpected) else ""),
            field=name)


# Common spellings of a pairwise vote in public label files, mapped onto A / B / tie (issue 14 §2).
# FastChat's MT-Bench judgments write "tie (inconsistent)" when the two orders disagree and
# "tie (bothbad)" for human ties; Chatbot Arena writes model_a / model_b. Numeric codes (PandaLM's
# 1 / 2 / 0) are ambiguous between files and need a declared ``vote_map``.
VOTE_ALIASES: dict[str, str] = {
    "a": "A", "b": "B", "tie": "tie",
    "a>b": "A", "b>a": "B", "a=b": "tie", "a<b": "B", "b<a": "A",
    "model_1": "A", "model_2": "B", "model_a": "A", "model_b": "B",
    "tie (inconsistent)": "tie", "tie (bothbad)": "tie", "both_bad": "tie", "draw": "tie",
}


def normalise_vote(vote: object, vote_map: dict[str, str] | None = None, aliases: bool = True) -> object:
    """A known (or declared, via ``vote_map``) spelling of a vote as 'A', 'B' or 'tie'; else unchanged."""
    if isinstance(vote, bool):
        return vote
    if isinstance(vote, int | float) and float(vote).is_integer():
        vote = str(int(vote))
    if isinstance(vote, str):
        if vote_map and vote in vote_map:
            return vote_map[vote]
        return VOTE_ALIASES.get(vote.strip().lower(), vote) if aliases else vote
    return vote


def check_votes(votes: Sequence[str | None] | Sequence[str], name: str, vote_map: dict[str, str] | None = None,
                aliases: bool = False) -> np.ndarray:
    """Votes as an object array of A/B/tie; ``aliases`` maps the common spellings (VOTE_ALIASES),
    which /v1/agreement does and calibration (whose votes come from our own parser) does not."""
    if vote_map:
        bad = sorted(k for k, v in vote_map.items() if v not in VOTES)
        if bad:
            raise InvalidInput(f"vote_map must map onto 'A', 'B' or 'tie'; '{bad[0]}' maps to {vote_map[bad[0]]!r}",
                               field="vote_map")
    arr = np.asarray([normalise_vote(v, vote_map, aliases) for v in votes], dtype=object)
    unexpected = sorted({str(v) for v in arr if v not in VOTES})
    if unexpected:
        raise LabelSetMismatch(f"'{name}' has votes other than 'A', 'B', 'tie': {', '.join(unexpected[:10])}. "
                               "Map them onto A/B/tie first; known spellings (1/2/0, A>B/A=B, model_a/model_b, "
                               "'tie (inconsistent)', any case) are mapped for you; send an unparseable verdict as "
                               "null (missing), not as 'tie'.",
                               field=name)
    return arr


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


# Two raters' observed label sets sharing at most this share of the smaller set are most likely on
# different scales (0/1 vs 1/2, 0-4 vs 1-5): every figure computed across them is then meaningless.
OVERLAP_WARNING_SHARE = 0.5
_DISCRETE_MAX = 20  # more distinct values than this: compare ranges, not sets (averaged or continuous scores)


def label_overlap_warnings(x: np.ndarray, y: np.ndarray, names: tuple[str, str] = ("a", "b")) -> list[str]:
    """A warning when the observed labels of ``x`` and ``y`` barely overlap, naming the likely shift.

    Discrete labels compare sets (share of the smaller set found in the other); many distinct values
    compare ranges (share of the shorter range covered by both). The shift named is the one that
    aligns the two sets best (their minima or their maxima).
    """
    sx, sy = np.unique(x[np.isfinite(x)]), np.unique(y[np.isfinite(y)])
    if sx.size < 2 or sy.size < 2:
        return []
    discrete = max(sx.size, sy.size) <= _DISCRETE_MAX

    def overlap(shift: float) -> float:
        if discrete:
            return float(np.intersect1d(sx + shift, sy).size / min(sx.size, sy.size))
        low, high = max(sx[0] + shift, sy[0]), min(sx[-1] + shift, sy[-1])
        return float(max(0.0, high - low) / min(sx[-1] - sx[0], sy[-1] - sy[0]))

    share = overlap(0.0)
    if share > OVERLAP_WARNING_SHARE:
        return []
    shown = f"'{names[0]}' uses {_set(sx)}, '{names[1]}' uses {_set(sy)}"
    message = (f"the two sides' observed labels barely overlap ({share:.0%} of the smaller set in common): {shown}. ")
    best = max((float(sy[0] - sx[0]), float(sy[-1] - sx[-1])), key=overlap)
    if best != 0 and overlap(best) > share and overlap(best) >= 0.8:
        message += (f"'{names[1]}' looks like '{names[0]}' shifted by {best:+g}: map both onto one scale before "
                    "reading kappa, alpha or correlations")
    else:
        message += "check that both sides use the same scale and encoding"
    return [message]


def _set(values: np.ndarray) -> str:
    if values.size > 6:
        return f"{_fmt(values[0])}..{_fmt(values[-1])} ({values.size} values)"
    return "{" + ", ".join(_fmt(v) for v in values) + "}"
