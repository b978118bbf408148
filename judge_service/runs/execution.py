"""How each judge of a run sends its calls: ``direct`` (one request per call, answers in seconds)
or ``batch`` (the provider's batch API: about half the price, answers within 24 h).

A run asks per judge or for all at once; ``auto`` takes ``batch`` when the judge's provider has a
batch API and the run makes more than ``batch_min_calls`` calls to it (default: the service's
``batch_auto_min_calls``), since a small run is not worth hours of waiting.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from judge_service.errors import InvalidInput
from judge_service.judges.registry import Judge

Execution = Literal["direct", "batch", "auto"]


def calls_per_judge(mode: str, n_items: int, samples: int) -> int:
    """Provider calls one judge makes for a run, first tries only (both orders per pairwise item,
    both systems' answers per absolute item)."""
    per_item = (2 if mode in ("pairwise", "both") else 0) + (2 if mode in ("absolute", "both") else 0)
    return n_items * per_item * samples


def resolve_execution(requested: Execution | dict[str, Execution], judges: Sequence[Judge], *, calls: int,
                      min_calls: int) -> dict[str, Literal["direct", "batch"]]:
    """judge name -> "direct" | "batch", or a 422 naming ``execution``."""
    names = [j.name for j in judges]
    if isinstance(requested, dict):
        unknown = sorted(set(requested) - set(names))
        if unknown:
            raise InvalidInput(f"execution names judge(s) {unknown} that are not in this run; its judges are {names}",
                               field="execution")
    resolved: dict[str, Literal["direct", "batch"]] = {}
    for judge in judges:
        wanted = requested.get(judge.name, "direct") if isinstance(requested, dict) else requested
        supported = judge.batch_api() is not None
        if wanted == "batch" and not supported:
            raise InvalidInput(f"judge '{judge.name}' ({judge.spec.provider}) has no batch API; use execution 'direct' "
                               "or 'auto' for it (batch: provider openai or anthropic, or openai_compatible with "
                               "options.batch_api: true)", field="execution")
        if wanted == "auto":
            wanted = "batch" if supported and calls > min_calls else "direct"
        resolved[judge.name] = "batch" if wanted == "batch" else "direct"
    return resolved
