"""FastChat MT-Bench files: questions, model answers and GPT-4 judgments.

Formats (lm-sys/FastChat ``fastchat/llm_judge``): ``question.jsonl`` lines ``{question_id,
category, turns: [q1, q2]}``; ``model_answer/<model>.jsonl`` lines ``{question_id, model_id,
choices: [{turns: [a1, a2]}]}``; ``model_judgment/<judge>_single.jsonl`` lines ``{question_id,
model, judge, score, turn, ...}`` with ``score`` −1 when the judge's reply could not be parsed;
``<judge>_pair.jsonl`` lines ``{question_id, model_1, model_2, g1_winner, g2_winner, turn, ...}``
where the winners are ``model_1``/``model_2``/``tie``/``error`` and g2 (the swapped order) is
already mapped back to the original order.

The headline figures are FastChat's ``show_result.py``: single mode averages the scores per model
(per turn and overall) with −1 left out; pairwise mode drops rows with an ``error``, counts a tie
when either order says tie or the orders disagree, and reports ``win_rate_adjusted`` = (win +
tie / 2) / (win + loss + tie).

Multi-turn items: each system's second answer follows *its own* first answer, so a turn-2 item
cannot share one conversation between the systems. A turn-2 item therefore holds the shared user
turns in ``messages`` and each system's own first answer in ``histories``
(``engine/histories.py``); the judge reads each system's whole conversation, as FastChat's
multi-turn judge prompts show them. Turn-1 items are plain ``prompt`` items.

Existing judgments ride on the items as ``external_judgments`` (``runs/spec.py``), under the judge's
name (FastChat's ``judge`` field, ``["gpt-4", "pair-v2"]``): a pair row becomes the item's two
games (g1 shows ``model_1`` first; g2, already mapped back, shows ``model_2`` first; ``error`` is an
unscored game), a single row that system's score (−1: unparseable, null). A run over the items
reports them as the judge ``external:<name>`` beside the service's panel (``runs/external.py``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from judge_service.errors import InvalidInput


@dataclass(frozen=True)
class Question:
    question_id: int
    category: str | None
    turns: tuple[str, ...]


@dataclass(frozen=True)
class SingleJudgment:
    question_id: int
    model: str
    turn: int
    score: float | None  # None: FastChat's −1, the judge's reply was unparseable


@dataclass(frozen=True)
class PairJudgment:
    question_id: int
    model_1: str
    model_2: str
    turn: int
    g1_winner: str
    g2_winner: str


@dataclass(frozen=True)
class SingleScores:
    model: str
    by_turn: dict[int, float]
    average: float
    n: int
    n_unparseable: int


@dataclass(frozen=True)
class PairwiseRow:
    model: str
    win: int
    loss: int
    tie: int
    win_rate: float
    loss_rate: float
    win_rate_adjusted: float


@dataclass(frozen=True)
class ImportedItems:
    items: list[dict[str, Any]]
    missing_baseline: list[int] = field(default_factory=list)
    missing_candidate: list[int] = field(default_factory=list)


def _lines(rows: Any, what: str) -> list[Mapping[str, Any]]:
    if not isinstance(rows, list) or not rows:
        raise InvalidInput(f"{what} must be a non-empty list of JSON objects (one per JSONL line)", field=what)
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise InvalidInput(f"{what}[{i}] is not a JSON object", field=f"{what}.{i}")
    return rows


def _int(row: Mapping[str, Any], key: str, where: str) -> int:
    value = row.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{where}.{key} must be an integer; is this a FastChat MT-Bench file?", field=f"{where}.{key}")
    return value


def _str(row: Mapping[str, Any], key: str, where: str) -> str:
    value = row.get(key)
    if not isinstance(value, str):
        raise InvalidInput(f"{where}.{key} must be a string; is this a FastChat MT-Bench file?", field=f"{where}.{key}")
    return value


def _turns(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(t, str) for t in value):
        raise InvalidInput(f"{where} must be a non-empty list of strings", field=where)
    return tuple(value)


def read_questions(rows: Any, what: str = "questions") -> dict[int, Question]:
    out: dict[int, Question] = {}
    for i, row in enumerate(_lines(rows, what)):
        where = f"{what}.{i}"
        qid = _int(row, "question_id", where)
        if qid in out:
            raise InvalidInput(f"question_id {qid} appears twice", field=f"{where}.question_id")
        category = row.get("category")
        out[qid] = Question(qid, category if isinstance(category, str) else None, _turns(row.get("turns"), f"{where}.turns"))
    return out


def read_answers(rows: Any, what: str = "answers") -> dict[int, tuple[str, ...]]:
    """question_id → the model's answer turns (the first choice, as FastChat's judge reads it)."""
    out: dict[int, tuple[str, ...]] = {}
    for i, row in enumerate(_lines(rows, what)):
        where = f"{what}.{i}"
        qid = _int(row, "question_id", where)
        choices = row.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
            raise InvalidInput(f"{where}.choices must be a list of {{turns: [...]}}", field=f"{where}.choices")
        if qid in out:
            raise InvalidInput(f"question_id {qid} is answered twice", field=f"{where}.question_id")
        out[qid] = _turns(choices[0].get("turns"), f"{where}.choices.0.turns")
    return out


def read_single_judgments(rows: Any, what: str = "single_judgments") -> list[SingleJudgment]:
    out = []
    for i, row in enumerate(_lines(rows, what)):
        where = f"{what}.{i}"
        score = row.get("score")
        if isinstance(score, bool) or not isinstance(score, (int, float)):
            raise InvalidInput(f"{where}.score must be a number (−1 for unparseable)", field=f"{where}.score")
        out.append(SingleJudgment(_int(row, "question_id", where), _str(row, "model", where),
                                  _int(row, "turn", where), None if score == -1 else float(score)))
    return out


_WINNERS = {"model_1", "model_2", "tie", "error"}


def read_pair_judgments(rows: Any, what: str = "pair_judgments") -> list[PairJudgment]:
    out = []
    for i, row in enumerate(_lines(rows, what)):
        where = f"{what}.{i}"
        winners = [_str(row, k, where) for k in ("g1_winner", "g2_winner")]
        for key, value in zip(("g1_winner", "g2_winner"), winners):
            if value not in _WINNERS:
                raise InvalidInput(f"{where}.{key} is '{value}'; FastChat writes one of {sorted(_WINNERS)}",
                                   field=f"{where}.{key}")
        out.append(PairJudgment(_int(row, "question_id", where), _str(row, "model_1", where), _str(row, "model_2", where),
                                _int(row, "turn", where), winners[0], winners[1]))
    return out


def single_scores(judgments: Sequence[SingleJudgment]) -> list[SingleScores]:
    """``show_result.py --mode single``: mean score per model, per turn and overall, −1 left out."""
    by_model: dict[str, list[SingleJudgment]] = defaultdict(list)
    for j in judgments:
        by_model[j.model].append(j)
    out = []
    for model, rows in sorted(by_model.items()):
        scored = [r for r in rows if r.score is not None]
        turns: dict[int, list[float]] = defaultdict(list)
        for r in scored:
            turns[r.turn].append(r.score)  # type: ignore[arg-type]  # filtered above
        out.append(SingleScores(model, {t: sum(v) / len(v) for t, v in sorted(turns.items())},
                                sum(r.score for r in scored) / len(scored) if scored else float("nan"),  # type: ignore[misc]
                                len(scored), len(rows) - len(scored)))
    return sorted(out, key=lambda s: -s.average)


def pairwise_win_rates(judgments: Sequence[PairJudgment], baseline: str | None = None) -> list[PairwiseRow]:
    """``show_result.py --mode pairwise-baseline`` (or ``pairwise-all`` with ``baseline=None``)."""
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # win, loss, tie
    for j in judgments:
        if "error" in (j.g1_winner, j.g2_winner):
            continue
        if baseline is not None and baseline not in (j.model_1, j.model_2):
            continue
        if j.g1_winner == "tie" or j.g1_winner != j.g2_winner:
            tally[j.model_1][2] += 1
            tally[j.model_2][2] += 1
            continue
        winner, loser = (j.model_1, j.model_2) if j.g1_winner == "model_1" else (j.model_2, j.model_1)
        tally[winner][0] += 1
        tally[loser][1] += 1
    rows = []
    for model, (win, loss, tie) in tally.items():
        if model == baseline:
            continue
        total = win + loss + tie
        rows.append(PairwiseRow(model, win, loss, tie, win / total, loss / total, (win + 0.5 * tie) / total))
    return sorted(rows, key=lambda r: -r.win_rate_adjusted)


@dataclass(frozen=True)
class PairConsistency:
    n: int  # rows with no error in either game
    consistent: int  # both games name the same winner (a tie in both counts)
    errors: int

    @property
    def rate(self) -> float | None:
        return self.consistent / self.n if self.n else None


def pair_consistency(judgments: Sequence[PairJudgment]) -> PairConsistency:
    """The external judge's position consistency: how often its two games (swapped orders) agree."""
    kept = [j for j in judgments if "error" not in (j.g1_winner, j.g2_winner)]
    return PairConsistency(len(kept), sum(j.g1_winner == j.g2_winner for j in kept), len(judgments) - len(kept))


def judge_name_of(rows: Any) -> str | None:
    """FastChat's ``judge`` field is ``[model, prompt name]``; the model names the external judge."""
    for row in rows or []:
        judge = row.get("judge") if isinstance(row, Mapping) else None
        if isinstance(judge, list) and judge and isinstance(judge[0], str) and judge[0].strip():
            return judge[0]
        if isinstance(judge, str) and judge.strip():
            return judge
    return None


def external_judgments(*, pair: Sequence[PairJudgment] = (), single: Sequence[SingleJudgment] = (),
                       arms: Mapping[str, str], source: str | None = None) -> dict[tuple[int, int], dict[str, Any]]:
    """(question_id, turn) → one judge's verdicts on that item, in the run's terms (``runs/spec.py``
    ``ExternalJudgment``).

    ``arms``: the model name in the judgment files → the run's system name. Rows about other models
    are not this run's (a pairwise-all file holds every pair) and are left out."""
    out: dict[tuple[int, int], dict[str, Any]] = {}

    def entry(key: tuple[int, int]) -> dict[str, Any]:
        return out.setdefault(key, {"source": source} if source else {})

    for j in pair:
        if j.model_1 not in arms or j.model_2 not in arms or arms[j.model_1] == arms[j.model_2]:
            continue
        first, second = arms[j.model_1], arms[j.model_2]
        name = {"model_1": first, "model_2": second, "tie": "tie", "error": None}
        # Game 1 shows model_1 first; game 2 shows model_2 first, its winner already mapped back.
        entry((j.question_id, j.turn))["orders"] = [{"first": first, "winner": name[j.g1_winner]},
                                                    {"first": second, "winner": name[j.g2_winner]}]
    for s in single:
        if s.model in arms:
            entry((s.question_id, s.turn)).setdefault("scores", {})[arms[s.model]] = s.score
    return out


def external_by_judge(*, pair: tuple[Any, Sequence[PairJudgment] | None], single: tuple[Any, Sequence[SingleJudgment] | None],
                      arms: Mapping[str, str], judge_name: str | None = None) -> dict[str, dict[tuple[int, int], dict[str, Any]]]:
    """judge name → ``external_judgments(...)``, from the raw and read rows of each judgment file given.

    Each file's judge (its rows' ``judge`` model, or ``judge_name``) is one external judge; a pair
    and a single file by the same judge are one judge with both kinds of verdict. An empty mapping
    for a judge means none of its rows is about this run's two models."""
    names = {kind: judge_name or judge_name_of(raw) or "fastchat-judge"
             for kind, (raw, read) in (("pair", pair), ("single", single)) if read is not None}
    out = {}
    for judge in sorted(set(names.values())):
        kinds = [k for k in ("pair", "single") if names.get(k) == judge]
        out[judge] = external_judgments(pair=(pair[1] or ()) if "pair" in kinds else (),
                                        single=(single[1] or ()) if "single" in kinds else (), arms=arms,
                                        source=", ".join(f"model_judgment/{judge}_{k}.jsonl" for k in kinds))
    return out


def run_items(questions: Mapping[int, Question], baseline: Mapping[int, tuple[str, ...]],
              candidate: Mapping[int, tuple[str, ...]], *, baseline_name: str, candidate_name: str,
              turns: Sequence[int] = (1, 2),
              external: Mapping[str, Mapping[tuple[int, int], dict[str, Any]]] | None = None) -> ImportedItems:
    """Run items over (question, turn); questions one side did not answer are reported.

    ``external``: judge name → ``external_judgments(...)``, kept on each item under that name."""
    if baseline_name == candidate_name:
        raise InvalidInput("baseline and candidate need different names", field="candidate_name")
    if not turns or any(t not in (1, 2) for t in turns):
        raise InvalidInput("turns must be a subset of [1, 2]", field="turns")
    items: list[dict[str, Any]] = []

    def add(item: dict[str, Any], qid: int, turn: int) -> None:
        verdicts = {judge: by_item[(qid, turn)] for judge, by_item in (external or {}).items() if (qid, turn) in by_item}
        if verdicts:
            item["external_judgments"] = verdicts
        items.append(item)

    for qid, q in sorted(questions.items()):
        a, b = baseline.get(qid), candidate.get(qid)
        if a is None or b is None:
            continue
        meta = {baseline_name: {"question_id": qid, "category": q.category},
                candidate_name: {"question_id": qid, "category": q.category}}
        if 1 in turns:
            add({"id": f"mt-{qid}-t1", "prompt": q.turns[0],
                 "outputs": {baseline_name: a[0], candidate_name: b[0]}, "metadata": meta}, qid, 1)
        if 2 in turns and len(q.turns) > 1 and len(a) > 1 and len(b) > 1:
            add({"id": f"mt-{qid}-t2",
                 "messages": [{"role": "user", "content": q.turns[0]}, {"role": "user", "content": q.turns[1]}],
                 "histories": {baseline_name: [a[0]], candidate_name: [b[0]]},
                 "outputs": {baseline_name: a[1], candidate_name: b[1]}, "metadata": meta}, qid, 2)
    return ImportedItems(items, missing_baseline=sorted(set(questions) - set(baseline)),
                         missing_candidate=sorted(set(questions) - set(candidate)))
