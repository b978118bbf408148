"""POST /v1/imports/{alpaca-eval,mt-bench}: other tools' files → run items and those tools' own figures.

Stateless: the answer carries the run items (send them to ``POST /v1/runs`` to re-judge with the
service's panel) and the headline figures the other tool would print, recomputed exactly, so a
user can check the import against what they already know. The parsing lives in
``judge_service.importers``; this module only shapes.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from judge_service.errors import InvalidInput
from judge_service.importers import alpaca_eval, mt_bench
from judge_service.schemas import ErrorBody

router = APIRouter(prefix="/v1/imports", tags=["imports"])
ERRORS: dict[int | str, dict[str, Any]] = {s: {"model": ErrorBody} for s in (413, 422)}
# No item-count caps in the schema: JUDGE_MAX_BODY_BYTES bounds what a request can hold (a 413),
# and a cap the body limit always reaches first would only be a second, unreachable refusal.


class ImportedRunItem(BaseModel):
    """A ``POST /v1/runs`` item: single-turn items have ``prompt``; multi-turn ones ``messages`` (the shared
    user turns) and ``histories`` (each system's own earlier answers)."""

    id: str
    prompt: str | None = None
    messages: list[dict[str, str]] | None = None
    histories: dict[str, list[str]] | None = None
    outputs: dict[str, str]
    metadata: dict[str, dict[str, Any]]
    external_judgments: dict[str, dict[str, Any]] | None = Field(
        default=None, description="judge name -> the imported verdicts on this item (a run reports them as the judge "
                                  "'external:<name>')")


# --- AlpacaEval ---------------------------------------------------------------------------------

class AlpacaEvalImport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    baseline_outputs: list[dict[str, Any]] = Field(description="the baseline's model_outputs.json")
    candidate_outputs: list[dict[str, Any]] = Field(description="the candidate's model_outputs.json")
    baseline_annotations: list[dict[str, Any]] | None = Field(
        default=None, description="the baseline arm's annotations.json (optional)")
    candidate_annotations: list[dict[str, Any]] | None = Field(
        default=None, description="the candidate arm's annotations.json (optional)")
    baseline_name: str | None = Field(default=None, max_length=200, description="default: the outputs' generator")
    candidate_name: str | None = Field(default=None, max_length=200, description="default: the outputs' generator")


class AlpacaArmOut(BaseModel):
    generator: str
    baseline_generator: str = Field(description="generator_1: the reference model the annotator compared against")
    annotator: str | None
    win_rate: float
    standard_error: float | None
    n_wins: int
    n_wins_base: int
    n_draws: int
    n_total: int
    n_missing: int = Field(description="annotations without a preference (left out of every figure)")
    discrete_win_rate: float
    avg_length: float = Field(description="mean characters of the arm's annotated outputs")


class AlpacaEvalImported(BaseModel):
    baseline: str
    candidate: str
    items: list[ImportedRunItem]
    only_baseline: list[str] = Field(description="instructions only the baseline answered (not imported)")
    only_candidate: list[str] = Field(description="instructions only the candidate answered (not imported)")
    duplicates: list[str] = Field(description="instructions that appear twice in an arm (the last answer kept)")
    annotations: dict[str, AlpacaArmOut] = Field(description="arm name → its leaderboard row, recomputed")
    comparable: bool | None = Field(description="whether the two arms' annotations may be compared; null without both")
    warnings: list[str]


def _arm(summary: alpaca_eval.AnnotationSummary) -> AlpacaArmOut:
    values = asdict(summary)
    if values["standard_error"] != values["standard_error"]:  # nan: one annotation
        values["standard_error"] = None
    return AlpacaArmOut(**values)


@router.post("/alpaca-eval", response_model=AlpacaEvalImported, responses=ERRORS)
def import_alpaca_eval(body: AlpacaEvalImport) -> AlpacaEvalImported:
    base = alpaca_eval.read_model_outputs(body.baseline_outputs, "baseline_outputs")
    cand = alpaca_eval.read_model_outputs(body.candidate_outputs, "candidate_outputs")
    base_name = body.baseline_name or base[0].generator
    cand_name = body.candidate_name or cand[0].generator
    if base_name == cand_name:
        raise InvalidInput(f"both arms are called '{base_name}'; set baseline_name and candidate_name",
                           field="candidate_name")
    joined = alpaca_eval.join_outputs(base, cand, baseline_name=base_name, candidate_name=cand_name)
    warnings: list[str] = []
    if joined.only_baseline or joined.only_candidate:
        warnings.append(f"{len(joined.only_baseline)} instruction(s) only in the baseline and "
                        f"{len(joined.only_candidate)} only in the candidate were not imported (listed)")
    arms: dict[str, AlpacaArmOut] = {}
    read: dict[str, list[alpaca_eval.Annotation]] = {}
    for name, rows, what in ((base_name, body.baseline_annotations, "baseline_annotations"),
                             (cand_name, body.candidate_annotations, "candidate_annotations")):
        if rows is not None:
            read[name] = alpaca_eval.read_annotations(rows, what)
            arms[name] = _arm(alpaca_eval.summarise(read[name]))
    comparable = None
    if len(read) == 2:
        problems = alpaca_eval.comparability_problems(read[base_name], read[cand_name])
        comparable = not problems
        warnings.extend(f"the arms' annotations are not comparable: {p}" for p in problems)
    if not joined.items:
        raise InvalidInput("the two arms share no instruction; are these outputs of the same AlpacaEval set?",
                           field="candidate_outputs")
    return AlpacaEvalImported(baseline=base_name, candidate=cand_name,
                              items=[ImportedRunItem(**i) for i in joined.items],
                              only_baseline=joined.only_baseline, only_candidate=joined.only_candidate,
                              duplicates=joined.duplicates, annotations=arms, comparable=comparable,
                              warnings=warnings)


# --- MT-Bench -----------------------------------------------------------------------------------

class MTBenchImport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    questions: list[dict[str, Any]] = Field(description="question.jsonl, one object per line")
    baseline_answers: list[dict[str, Any]] = Field(description="model_answer/<baseline>.jsonl")
    candidate_answers: list[dict[str, Any]] = Field(description="model_answer/<candidate>.jsonl")
    baseline_name: str | None = Field(default=None, max_length=200, description="default: the answers' model_id")
    candidate_name: str | None = Field(default=None, max_length=200, description="default: the answers' model_id")
    turns: list[int] = Field(default=[1, 2], min_length=1, max_length=2)
    single_judgments: list[dict[str, Any]] | None = Field(default=None,
                                                          description="model_judgment/<judge>_single.jsonl")
    pair_judgments: list[dict[str, Any]] | None = Field(default=None,
                                                        description="model_judgment/<judge>_pair.jsonl")
    pair_baseline: str | None = Field(default=None, description="show_result's --baseline-model (default: pairwise-all)")
    judge_name: str | None = Field(default=None, min_length=1, max_length=200, description=(
        "the external judge's name on the items (default: the judgment rows' 'judge' model, e.g. gpt-4)"))


class SingleScoresOut(BaseModel):
    model: str
    by_turn: dict[int, float]
    average: float | None
    n: int
    n_unparseable: int = Field(description="judgments with score −1 (left out, as show_result.py does)")


class PairwiseRowOut(BaseModel):
    model: str
    win: int
    loss: int
    tie: int
    win_rate: float
    loss_rate: float
    win_rate_adjusted: float = Field(description="(win + tie/2) / (win + loss + tie), FastChat's show_result.py")


class PairConsistencyOut(BaseModel):
    n: int = Field(description="pair rows without an error")
    consistent: int = Field(description="rows whose two games (swapped orders) name the same winner")
    errors: int
    rate: float | None = Field(description="consistent / n: the external judge's position consistency")


class MTBenchImported(BaseModel):
    baseline: str
    candidate: str
    items: list[ImportedRunItem]
    missing_baseline: list[int] = Field(description="question ids the baseline did not answer (not imported)")
    missing_candidate: list[int] = Field(description="question ids the candidate did not answer (not imported)")
    single_scores: list[SingleScoresOut] = Field(description="MT-Bench score per model, as show_result.py --mode single")
    pairwise: list[PairwiseRowOut] = Field(description="show_result.py --mode pairwise-baseline / pairwise-all")
    pair_consistency: PairConsistencyOut | None = Field(
        default=None, description="with pair_judgments: how often the external judge's two orders agree")
    warnings: list[str]


def _model_id(rows: list[dict[str, Any]], what: str) -> str | None:
    ids = {r.get("model_id") for r in rows if isinstance(r, dict)}
    if len(ids) == 1:
        only = ids.pop()
        return only if isinstance(only, str) else None
    if len(ids) > 1:
        raise InvalidInput(f"{what} mixes model_id values; send one model's answers per arm", field=what)
    return None


@router.post("/mt-bench", response_model=MTBenchImported, responses=ERRORS)
def import_mt_bench(body: MTBenchImport) -> MTBenchImported:
    questions = mt_bench.read_questions(body.questions)
    base = mt_bench.read_answers(body.baseline_answers, "baseline_answers")
    cand = mt_bench.read_answers(body.candidate_answers, "candidate_answers")
    base_name = body.baseline_name or _model_id(body.baseline_answers, "baseline_answers") or "baseline"
    cand_name = body.candidate_name or _model_id(body.candidate_answers, "candidate_answers") or "candidate"
    if base_name == cand_name:
        raise InvalidInput(f"both arms are called '{base_name}'; set baseline_name and candidate_name",
                           field="candidate_name")
    warnings: list[str] = []
    # The judgment files name models by model_id; the run's systems may be renamed.
    arms = {base_name: base_name, cand_name: cand_name}
    for rows, what, name in ((body.baseline_answers, "baseline_answers", base_name),
                             (body.candidate_answers, "candidate_answers", cand_name)):
        model_id = _model_id(rows, what)
        if model_id is not None:
            arms[model_id] = name
    read_single = None if body.single_judgments is None else mt_bench.read_single_judgments(body.single_judgments)
    read_pair = None if body.pair_judgments is None else mt_bench.read_pair_judgments(body.pair_judgments)
    external = mt_bench.external_by_judge(pair=(body.pair_judgments, read_pair), single=(body.single_judgments, read_single),
                                          arms=arms, judge_name=body.judge_name)
    warnings.extend(f"no judgment by '{judge}' is about '{base_name}' or '{cand_name}' (model names {sorted(arms)}); "
                    "none kept on the items" for judge, verdicts in external.items() if not verdicts)
    imported = mt_bench.run_items(questions, base, cand, baseline_name=base_name, candidate_name=cand_name,
                                  turns=body.turns, external=external)
    if not imported.items:
        raise InvalidInput("no question was answered by both arms", field="candidate_answers")
    unknown = sorted((set(base) | set(cand)) - set(questions))
    if unknown:
        warnings.append(f"{len(unknown)} answered question id(s) are not in questions: {unknown[:10]}")
    singles: list[SingleScoresOut] = []
    if read_single is not None:
        for s in mt_bench.single_scores(read_single):
            singles.append(SingleScoresOut(model=s.model, by_turn=s.by_turn,
                                           average=None if s.average != s.average else s.average,
                                           n=s.n, n_unparseable=s.n_unparseable))
    pairwise: list[PairwiseRowOut] = []
    consistency = None
    if read_pair is not None:
        pairwise = [PairwiseRowOut(**asdict(r)) for r in mt_bench.pairwise_win_rates(read_pair, body.pair_baseline)]
        c = mt_bench.pair_consistency(read_pair)
        consistency = PairConsistencyOut(n=c.n, consistent=c.consistent, errors=c.errors, rate=c.rate)
    return MTBenchImported(baseline=base_name, candidate=cand_name,
                           items=[ImportedRunItem(**i) for i in imported.items],
                           missing_baseline=imported.missing_baseline, missing_candidate=imported.missing_candidate,
                           single_scores=singles, pairwise=pairwise, pair_consistency=consistency,
                           warnings=warnings)


# --- plain records: JSONL, CSV, Hugging Face datasets saved to disk ----------------------------

class RecordsImport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    records: list[dict[str, Any]] = Field(description="one object per row (a JSONL/CSV file, a datasets split)")
    prompt_field: str = Field(default="prompt", description="the prompt column: text, or a chat list of {role, content}")
    baseline_field: str = Field(description="the baseline's output column")
    candidate_field: str = Field(description="the candidate's output column")
    id_field: str | None = Field(default=None, description="a unique id column (default: the row number)")
    reference_field: str | None = Field(default=None, description="a reference-answer column")
    baseline_name: str = Field(default="baseline", min_length=1, max_length=200)
    candidate_name: str = Field(default="candidate", min_length=1, max_length=200)


class RecordsRunItem(BaseModel):
    id: str
    prompt: str | None = None
    messages: list[dict[str, Any]] | None = None
    reference: str | None = None
    outputs: dict[str, str]


class RecordsImported(BaseModel):
    baseline: str
    candidate: str
    items: list[RecordsRunItem]


@router.post("/records", response_model=RecordsImported, responses=ERRORS)
def import_records(body: RecordsImport) -> RecordsImported:
    from judge_service.importers import records

    columns = records.Columns(prompt=body.prompt_field, baseline=body.baseline_field, candidate=body.candidate_field,
                              id=body.id_field, reference=body.reference_field)
    items = records.run_items(body.records, columns, baseline_name=body.baseline_name,
                              candidate_name=body.candidate_name)
    return RecordsImported(baseline=body.baseline_name, candidate=body.candidate_name,
                           items=[RecordsRunItem(**i) for i in items])
