"""Cost of a judge call in USD from its token usage and the judge's configured price."""

from __future__ import annotations

from judge_service.judges.base import Usage
from judge_service.judges.config import JudgeSpec

# Providers that run on this machine: no price configured means free, not unknown.
FREE_PROVIDERS = frozenset({"local", "scripted"})


def cost_usd(spec: JudgeSpec, usage: Usage, *, cached: bool = False, batched: bool = False) -> float | None:
    """None when no price is configured (unknown, not free); 0.0 for a cached call.

    ``batched``: answered through the provider's batch API, billed at the batch price."""
    if cached:
        return 0.0
    price = spec.price
    if price is None:
        return 0.0 if spec.provider in FREE_PROVIDERS else None
    if not batched:
        return (usage.input_tokens * price.input_per_mtok + usage.output_tokens * price.output_per_mtok) / 1e6
    per_in = price.batch_input_per_mtok if price.batch_input_per_mtok is not None else price.input_per_mtok * price.batch_factor
    per_out = price.batch_output_per_mtok if price.batch_output_per_mtok is not None else price.output_per_mtok * price.batch_factor
    return (usage.input_tokens * per_in + usage.output_tokens * per_out) / 1e6
