"""A run's verdicts written back as FastChat ``model_judgment`` lines, for users who keep ``show_result.py``.

FastChat's ``gen_judgment.py`` writes ``<judge>_pair.jsonl`` lines ``{question_id, model_1, model_2,
g1_winner, g2_winner, judge: [model, prompt name], g1_user_prompt, g1_judgment, g2_user_prompt,
g2_judgment, turn, tstamp}``: game 1 shows model_1 first, game 2 swaps them, and g2's winner is
already mapped back to the original order. ``<judge>_single.jsonl`` lines are ``{question_id,
model, judge, user_prompt, judgment, score, turn, tstamp}`` with score −1 when the judge's reply
could not be parsed. ``show_result.py`` reads only ``model_1/model_2/g1_winner/g2_winner`` (rows
with an ``error`` dropped) and ``model/score/turn`` (−1 dropped), so those fields are exact here.

Our run's order AB shows the baseline first: model_1 = the baseline, game 1 = order AB, game 2 =
order BA (its winners are already stored in terms of the systems). Several samples in one order
collapse to their majority (a split is a tie), the vote FastChat's single sample would have been.
Items imported from MT-Bench keep their ``question_id`` and turn; other items export their id as
the question id and turn 1.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from judge_service.runs.records import ItemResult, PairwiseOrderRecord

Kind = Literal["pair", "single"]
_MT_ID = re.compile(r"^mt-(\d+)-t([12])$")
_ROLE_TO_GAME = {"baseline": "model_1", "candidate": "model_2", "tie": "tie"}


def question_and_turn(item: Mapping[str, Any]) -> tuple[int | str, int]:
    """MT-Bench items carry ``mt-<qid>-t<turn>`` ids (``importers/mt_bench.py``); others are turn 1."""
    match = _MT_ID.match(str(item["id"]))
    if match:
        return int(match.group(1)), int(match.group(2))
    return str(item["id"]), 1


def _game_winner(order: PairwiseOrderRecord | None) -> str:
    if order is None or order.error is not None or not order.winners:
        return "error"
    votes = Counter(order.winners).most_common()
    if len(votes) > 1 and votes[0][1] == votes[1][1]:
        return "tie"
    return _ROLE_TO_GAME[votes[0][0]]


def pair_lines(items: Sequence[Mapping[str, Any]], results: Sequence[ItemResult | None], *, baseline: str,
               candidate: str, rubric: str, tstamp: float) -> list[dict[str, Any]]:
    """One ``<judge>_pair.jsonl`` line per (item, judge) with a pairwise verdict."""
    lines: list[dict[str, Any]] = []
    for item, result in zip(items, results):
        if result is None or result.pairwise is None:
            continue
        qid, turn = question_and_turn(item)
        for j in result.pairwise.judges:
            orders = {o.order: o for o in j.orders}
            lines.append({
                "question_id": qid, "model_1": baseline, "model_2": candidate,
                "g1_winner": _game_winner(orders.get("AB")), "g2_winner": _game_winner(orders.get("BA")),
                "judge": [j.model, rubric],
                "g1_user_prompt": "", "g1_judgment": j.error or "", "g2_user_prompt": "", "g2_judgment": j.error or "",
                "turn": turn, "tstamp": tstamp, "judge_name": j.judge,
            })
    return lines


def single_lines(items: Sequence[Mapping[str, Any]], results: Sequence[ItemResult | None], *, baseline: str,
                 candidate: str, rubric: str, tstamp: float) -> list[dict[str, Any]]:
    """One ``<judge>_single.jsonl`` line per (item, system, judge) with an absolute score (−1: none)."""
    lines: list[dict[str, Any]] = []
    for item, result in zip(items, results):
        if result is None or result.absolute is None:
            continue
        qid, turn = question_and_turn(item)
        for model, grades in ((baseline, result.absolute.baseline), (candidate, result.absolute.candidate)):
            for g in grades.judges:
                lines.append({
                    "question_id": qid, "model": model, "judge": [g.model, rubric],
                    "user_prompt": "", "judgment": g.error or "",
                    "score": -1 if g.score is None else g.score, "turn": turn, "tstamp": tstamp,
                    "judge_name": g.judge,
                })
    return lines


def export_lines(kind: Kind, items: Sequence[Mapping[str, Any]], results: Sequence[ItemResult | None], *,
                 baseline: str, candidate: str, rubric: str, tstamp: float) -> list[dict[str, Any]]:
    write = pair_lines if kind == "pair" else single_lines
    return write(items, results, baseline=baseline, candidate=candidate, rubric=rubric, tstamp=tstamp)
