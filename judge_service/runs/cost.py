"""What a run cost: provider calls, tokens and USD, summed from the stored judge calls.

Every judge call of a run item is a ``judge_calls`` row owned by ``"<run_id>:<item_id>"``
(runs/evaluate.py), including parse retries and calls repeated after a crash, which the provider
billed too. Cached calls cost nothing and are counted apart. A remote judge with no ``price`` in
its config has an unknown cost, not a zero one: then ``usd`` is null and ``unpriced_calls`` says
how many calls lack a price, instead of a total that silently leaves them out.

``usd`` is what was paid: calls answered through a provider's batch API are recorded at the batch
price. ``direct_usd`` is what the same paid calls would have cost as direct calls, at the judge's
configured price (null when that is unknown), so a batch run shows what it saved.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel
from sqlalchemy import case, func

from judge_service.judges.base import Usage
from judge_service.judges.config import JudgeSpec
from judge_service.judges.pricing import cost_usd
from judge_service.store.db import Database
from judge_service.store.models import JudgeCallRow


class CostSummary(BaseModel):
    usd: float | None  # null when any paid call has no configured price
    calls: int  # provider calls that were answered and paid for (not cached)
    cached_calls: int  # answered from the call cache: cost 0
    failed_calls: int  # the provider never answered (after retries); providers do not bill these
    unpriced_calls: int
    input_tokens: int  # paid calls only
    output_tokens: int
    direct_usd: float | None = None  # the same paid calls at the direct price (null: no price known)


class RunCost(CostSummary):
    by_judge: dict[str, CostSummary]


# One grouped query row, judge column dropped: (cached, answered, calls, usd, tokens_in, tokens_out, unpriced).
_CostRow = tuple[bool, bool, int, float | None, int | None, int | None, int]


def _summary(rows: list[_CostRow]) -> CostSummary:
    calls = cached = failed = unpriced = tokens_in = tokens_out = 0
    usd = 0.0
    for cached_flag, answered, n, cost, t_in, t_out, n_unpriced in rows:
        if not answered:
            failed += n
        elif cached_flag:
            cached += n
        else:
            calls += n
            unpriced += n_unpriced
            usd += cost or 0.0
            tokens_in += t_in or 0
            tokens_out += t_out or 0
    return CostSummary(usd=None if unpriced else round(usd, 8), calls=calls, cached_calls=cached, failed_calls=failed,
                       unpriced_calls=unpriced, input_tokens=tokens_in, output_tokens=tokens_out)


def _with_direct(summary: CostSummary, spec: JudgeSpec | None) -> CostSummary:
    direct = None if spec is None else cost_usd(spec, Usage(summary.input_tokens, summary.output_tokens))
    return summary.model_copy(update={"direct_usd": None if direct is None else round(direct, 8)})


def run_cost(db: Database, run_id: str, specs: Mapping[str, JudgeSpec] | None = None) -> RunCost:
    """The cost of run ``run_id`` so far, in total and per judge; ``specs`` (judge name -> spec)
    price the direct equivalent."""
    answered = JudgeCallRow.raw_text.is_not(None)
    # owner_id is "<run_id>:<item_id>"; a range on the indexed column instead of LIKE (which
    # SQLite does not serve from an index, and which would treat '_' in ids as a wildcard).
    prefix = f"{run_id}:"
    with db.session() as s:
        rows = (s.query(JudgeCallRow.judge, JudgeCallRow.cached, answered, func.count(), func.sum(JudgeCallRow.cost_usd),
                        func.sum(JudgeCallRow.input_tokens), func.sum(JudgeCallRow.output_tokens),
                        func.sum(case((JudgeCallRow.cost_usd.is_(None), 1), else_=0)))
                .filter(JudgeCallRow.owner_kind == "run_item", JudgeCallRow.owner_id >= prefix,
                        JudgeCallRow.owner_id < prefix[:-1] + chr(ord(":") + 1))
                .group_by(JudgeCallRow.judge, JudgeCallRow.cached, answered)
                .all())
    by_judge: dict[str, list[_CostRow]] = {}
    for judge, *rest in rows:
        by_judge.setdefault(judge, []).append(tuple(rest))
    total = _summary([r for group in by_judge.values() for r in group])
    judges = {j: _with_direct(_summary(group), (specs or {}).get(j)) for j, group in sorted(by_judge.items())}
    directs = [j.direct_usd for j in judges.values()]
    total.direct_usd = None if any(d is None for d in directs) else round(sum(d for d in directs if d is not None), 8)
    return RunCost(**total.model_dump(), by_judge=judges)
