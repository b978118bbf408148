"""Cost of a judge call in USD from its token usage and the judge's configured price."""

from __future__ import annotations

from judge_service.judges.base import Usage
from judge_service.judges.config import JudgeSpec

# Providers that run on this machine: no price configured means free, not unknown.
FREE_PROVIDERS = frozenset({"local", "scripted"})


def cost_usd(spec: JudgeSpec, usage: Usage, *, cached: bool = False) -> float | None:
    """None when no price is configured (unknown, not free); 0.0 for a cached call."""
    if cached:
        return 0.0
    if spec.price is None:
        return 0.0 if spec.provider in FREE_PROVIDERS else None
    return (usage.input_tokens * spec.price.input_per_mtok + usage.output_tokens * spec.price.output_per_mtok) / 1e6
