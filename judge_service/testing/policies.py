"""Deterministic judging policies for fake judges (in-process and over HTTP).

A policy sees what a judge would see, parsed from the rendered prompt, and returns for each
answer field a probability per label. The fake judge answers with the most probable label (or a
seeded draw) and can report these probabilities as logprobs.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass

from judge_service.engine.prompts import fields_from_prompt
from judge_service.judges.base import AnswerField

_BLOCK = {tag: re.compile(rf"<{tag}>\n(.*?)\n</{tag}>", re.DOTALL) for tag in ("response", "response_a", "response_b", "reference")}


@dataclass(frozen=True)
class JudgeView:
    prompt_text: str
    fields: tuple[AnswerField, ...]
    response: str | None = None
    response_a: str | None = None
    response_b: str | None = None
    reference: str | None = None


def view_from_text(prompt_text: str, fields: tuple[AnswerField, ...] | None = None) -> JudgeView:
    found = {tag: (m.group(1) if (m := rx.search(prompt_text)) else None) for tag, rx in _BLOCK.items()}
    return JudgeView(prompt_text=prompt_text, fields=fields or fields_from_prompt(prompt_text), **found)


Distribution = dict[str, dict[str, float]]
Policy = Callable[[JudgeView, random.Random], Distribution]


def _one_hot(labels: tuple[str, ...], chosen: str, confidence: float = 0.9) -> dict[str, float]:
    rest = (1.0 - confidence) / max(1, len(labels) - 1)
    return {lab: (confidence if lab == chosen else rest) for lab in labels}


def _pairwise(view: JudgeView, pick: Callable[[JudgeView], str], confidence: float = 0.9) -> Distribution:
    out: Distribution = {}
    for f in view.fields:
        out[f.name] = _one_hot(f.labels, pick(view) if pick(view) in f.labels else f.labels[0], confidence)
    return out


def prefer_position_a(view: JudgeView, rng: random.Random) -> Distribution:
    """Always the first-shown response: a maximally position-biased judge."""
    return _pairwise(view, lambda v: "A")


def prefer_longer(view: JudgeView, rng: random.Random) -> Distribution:
    """The longer response wins; equal lengths tie. For absolute fields, longer scores higher."""
    if view.response_a is not None and view.response_b is not None:
        la, lb = len(view.response_a), len(view.response_b)
        return _pairwise(view, lambda v: "A" if la > lb else "B" if lb > la else "tie")
    return score_by(lambda text: len(text))(view, rng)


def prefer_by(fn: Callable[[str], float]) -> Policy:
    """Pairwise: the response with the higher fn(text) wins (equal: tie); a judge with a known taste."""

    def policy(view: JudgeView, rng: random.Random) -> Distribution:
        a, b = fn(view.response_a or ""), fn(view.response_b or "")
        return _pairwise(view, lambda v: "A" if a > b else "B" if b > a else "tie")

    return policy


def score_by(fn: Callable[[str], float]) -> Policy:
    """Absolute: every numeric field gets the label nearest to fn(response) (clamped to the scale)."""

    def policy(view: JudgeView, rng: random.Random) -> Distribution:
        out: Distribution = {}
        value = fn(view.response or "")
        for f in view.fields:
            nums = [int(lab) for lab in f.labels if lab.isdigit()]
            if not nums:
                out[f.name] = _one_hot(f.labels, f.labels[0])
                continue
            target = min(max(value, min(nums)), max(nums))
            # A peaked, smooth distribution around the target so logprob-weighted scores are informative.
            weights = {str(n): math.exp(-((n - target) ** 2)) for n in nums}
            total = sum(weights.values())
            out[f.name] = {lab: w / total for lab, w in weights.items()}
        return out

    return policy


def constant(label_by_field: dict[str, str]) -> Policy:
    def policy(view: JudgeView, rng: random.Random) -> Distribution:
        return {f.name: _one_hot(f.labels, label_by_field.get(f.name, f.labels[0]), 0.97) for f in view.fields}

    return policy


def wording_shift(base: Policy, marker: str, shift: float) -> Policy:
    """``base``, but an absolute score moves by ``shift`` points when the rubric text contains ``marker``
    (case-insensitive): a judge whose scores depend on a rubric's wording, for pilots."""

    def policy(view: JudgeView, rng: random.Random) -> Distribution:
        if view.response is None or marker.lower() not in view.prompt_text.lower():
            return base(view, rng)
        out: Distribution = {}
        for name, dist in base(view, rng).items():
            nums = sorted(int(lab) for lab in dist if lab.isdigit())
            if not nums:
                out[name] = dist
                continue
            moved: dict[str, float] = {lab: 0.0 for lab in dist}
            for lab, p in dist.items():  # shift the mass, piling what falls off the scale on its end
                target = min(max(round(int(lab) + shift), nums[0]), nums[-1])
                moved[str(target)] += p
            out[name] = moved
        return out

    return policy


def wording_switch(marker: str, plain: Policy, reworded: Policy) -> Policy:
    """``reworded`` when the rubric text contains ``marker`` (case-insensitive), else ``plain``."""

    def policy(view: JudgeView, rng: random.Random) -> Distribution:
        return (reworded if marker.lower() in view.prompt_text.lower() else plain)(view, rng)

    return policy


_SCORE_BY_LENGTH = score_by(lambda t: len(t) / 20)

POLICIES: dict[str, Policy] = {
    "prefer_position_a": prefer_position_a,
    "prefer_longer": prefer_longer,
    "score_by_length": _SCORE_BY_LENGTH,
    # helpfulness@1:errors asks about "factual errors": this judge scores that wording two points lower.
    "wording_sensitive": wording_shift(_SCORE_BY_LENGTH, "factual errors", -2),
    # ... and this one, asked about factual errors, scores against length: the wordings disagree on
    # which of two responses is better, not only on the level.
    "wording_reverses": wording_switch("factual errors", _SCORE_BY_LENGTH, score_by(lambda t: 11 - len(t) / 20)),
}


def choose(dist: dict[str, float], temperature: float, rng: random.Random) -> str:
    if temperature <= 0:
        return max(dist, key=lambda lab: dist[lab])
    labels = list(dist)
    weights = [dist[lab] ** (1.0 / temperature) for lab in labels]
    return rng.choices(labels, weights=weights)[0]
