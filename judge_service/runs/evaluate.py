"""Judging one run item: both systems' comparison (both orders) and/or absolute grades.

In a run the baseline is always response A and the candidate response B, so order "AB" shows
the baseline first and "BA" the candidate first. Results are stored per item as plain JSON.
"""

from __future__ import annotations

import asyncio

from judge_service.engine.call import CallOwner, JudgeCaller
from judge_service.engine.compare import compare
from judge_service.engine.grade import Conversation, Sampling, grade
from judge_service.judges.registry import Judge
from judge_service.rubrics.model import Rubric

_TO_ROLE = {"A": "baseline", "B": "candidate", "tie": "tie", None: None}


async def evaluate_item(caller: JudgeCaller, rubric: Rubric, judges: list[Judge], item: dict, spec: dict) -> dict:
    conv = Conversation(item["conversation"], item.get("reference"))
    sampling = Sampling(spec["samples"], spec["temperature"], spec["seed"])
    owner = CallOwner("run_item", f"{spec['run_id']}:{item['id']}")
    baseline, candidate = item["outputs"][spec["baseline"]], item["outputs"][spec["candidate"]]
    out: dict = {}
    tasks = {}
    if spec["mode"] in ("pairwise", "both"):
        tasks["pairwise"] = compare(caller, rubric, judges, conv, baseline, candidate, sampling=sampling, owner=owner)
    if spec["mode"] in ("absolute", "both"):
        tasks["baseline"] = grade(caller, rubric, judges, conv, baseline, sampling=sampling, owner=owner)
        tasks["candidate"] = grade(caller, rubric, judges, conv, candidate, sampling=sampling, owner=owner)
    results = dict(zip(tasks, await asyncio.gather(*tasks.values())))
    if "pairwise" in results:
        r = results["pairwise"]
        out["pairwise"] = {
            "winner": _TO_ROLE[r.winner],
            "prob_candidate": None if r.prob_a is None else 1.0 - r.prob_a,
            "consistent": r.consistent,
            "judges": [
                {
                    "judge": j.judge, "model": j.model, "winner": _TO_ROLE[j.winner],
                    "prob_candidate": None if j.prob_a is None else 1.0 - j.prob_a,
                    "consistent": j.consistent, "cost_usd": j.cost_usd, "error": j.error,
                    "orders": [
                        {"order": o.order, "winners": [_TO_ROLE[w] for w in o.sample_winners],
                         "prob_candidate": [1.0 - p for p in o.sample_probs], "error": o.error}
                        for o in j.orders
                    ],
                }
                for j in r.judges
            ],
        }
    if "baseline" in results:
        out["absolute"] = {
            role: {
                "score": results[role].score,
                "criteria": results[role].criteria,
                "judges": [
                    {"judge": g.judge, "model": g.model, "score": g.score, "samples": g.sample_scores,
                     "sample_criteria": g.sample_criteria, "cost_usd": g.cost_usd, "error": g.error}
                    for g in results[role].judges
                ],
            }
            for role in ("baseline", "candidate")
        }
    return out
