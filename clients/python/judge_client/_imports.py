"""Requests for ``/v1/imports/*``: other tools' files read on the client, sent as JSON.

Paths may be JSON (a list), JSONL (one object per line) or either compressed with xz (``.xz``, as
AlpacaEval's and FastChat's big files are often kept). Fields the service does not read (the
judge's raw completion with its logprobs, prompts) are dropped before sending, which keeps an
805-item annotations file well under the body limit.
"""

from __future__ import annotations

import json
import lzma
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from judge_client import _models_imports as mi
from judge_client._api import Call, _body

if TYPE_CHECKING:  # imported lazily at run time, as the functions below do
    from judge_client import _models_evalsets as me

RecordsArg = str | Path | Sequence[Mapping[str, Any]]

_KEEP = {
    "outputs": ("instruction", "output", "generator", "dataset"),
    "annotations": ("instruction", "output_1", "generator_1", "output_2", "generator_2", "annotator", "preference"),
    "questions": ("question_id", "category", "turns"),
    "answers": ("question_id", "model_id", "choices"),
    # "judge" ([model, prompt name]) names the external judge the verdicts are kept under.
    "single": ("question_id", "model", "judge", "turn", "score"),
    "pair": ("question_id", "model_1", "model_2", "judge", "turn", "g1_winner", "g2_winner"),
}


def read_records(source: RecordsArg, split: str | None = None) -> list[dict[str, Any]]:
    """A JSON list or JSONL file (optionally .xz), a CSV file, a parquet/arrow file or a folder saved
    by Hugging Face ``datasets`` (``split`` picks one of a DatasetDict), or records already in memory."""
    if not isinstance(source, (str, Path)):
        return [dict(r) for r in source]
    path = Path(source)
    if path.is_dir() or path.suffix in (".parquet", ".arrow"):
        from judge_client import _hf_files

        return _hf_files.read_saved_dataset(path, split) if path.is_dir() else _hf_files.read_table_file(path)
    if path.suffix == ".csv":
        import csv

        with path.open(newline="", encoding="utf-8") as f:
            return [dict(row) for row in csv.DictReader(f)]
    if path.suffix == ".xz":
        with lzma.open(path, "rt", encoding="utf-8") as f:
            text = f.read()
    else:
        text = path.read_text(encoding="utf-8")
    stripped = text.lstrip()
    if stripped.startswith("["):
        data = json.loads(text)
        if not isinstance(data, list):
            raise ValueError(f"{path}: expected a JSON list of records")
        return [dict(r) for r in data]
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _slim(source: RecordsArg | None, kind: str) -> list[dict[str, Any]] | None:
    if source is None:
        return None
    keep = _KEEP[kind]
    return [{k: r[k] for k in keep if k in r} for r in read_records(source)]


def alpaca_eval(*, baseline_outputs: RecordsArg, candidate_outputs: RecordsArg,
                baseline_annotations: RecordsArg | None, candidate_annotations: RecordsArg | None,
                baseline_name: str | None, candidate_name: str | None) -> Call[mi.AlpacaEvalImport]:
    return Call("POST", "/v1/imports/alpaca-eval", json=_body(
        baseline_outputs=_slim(baseline_outputs, "outputs"), candidate_outputs=_slim(candidate_outputs, "outputs"),
        baseline_annotations=_slim(baseline_annotations, "annotations"),
        candidate_annotations=_slim(candidate_annotations, "annotations"),
        baseline_name=baseline_name, candidate_name=candidate_name), cast=mi.AlpacaEvalImport.model_validate)


def mt_bench(*, questions: RecordsArg, baseline_answers: RecordsArg, candidate_answers: RecordsArg,
             baseline_name: str | None, candidate_name: str | None, turns: Sequence[int] | None,
             single_judgments: RecordsArg | None, pair_judgments: RecordsArg | None,
             pair_baseline: str | None) -> Call[mi.MTBenchImport]:
    return Call("POST", "/v1/imports/mt-bench", json=_body(
        questions=_slim(questions, "questions"), baseline_answers=_slim(baseline_answers, "answers"),
        candidate_answers=_slim(candidate_answers, "answers"), baseline_name=baseline_name,
        candidate_name=candidate_name, turns=None if turns is None else list(turns),
        single_judgments=_slim(single_judgments, "single"), pair_judgments=_slim(pair_judgments, "pair"),
        pair_baseline=pair_baseline), cast=mi.MTBenchImport.model_validate)


def records(*, source: RecordsArg, split: str | None, prompt_field: str, baseline_field: str, candidate_field: str,
            id_field: str | None, reference_field: str | None, baseline_name: str | None,
            candidate_name: str | None) -> Call[mi.RecordsImport]:
    rows = read_records(source, split)
    keep = {f for f in (prompt_field, baseline_field, candidate_field, id_field, reference_field) if f}
    return Call("POST", "/v1/imports/records", json=_body(
        records=[{k: r[k] for k in keep if k in r} for r in rows], prompt_field=prompt_field,
        baseline_field=baseline_field, candidate_field=candidate_field, id_field=id_field,
        reference_field=reference_field, baseline_name=baseline_name, candidate_name=candidate_name),
        cast=mi.RecordsImport.model_validate)


def export_fastchat(run_id: str, *, kind: str, judge: str | None) -> Call[str]:
    return Call("GET", f"/v1/runs/{quote(run_id, safe='')}/export/fastchat", params=_body(kind=kind, judge=judge),
                text=True)


def export_alpaca_eval(run_id: str) -> Call[list[dict[str, Any]]]:
    return Call("GET", f"/v1/runs/{quote(run_id, safe='')}/export/alpaca-eval")


# --- eval sets (they live here too: same file readers) ---------------------------------------

def save_eval_set(*, name: str, items: RecordsArg, note: str | None,
                  overlap_index_id: str | None = None) -> Call[me.EvalSetVersion]:
    from judge_client import _models_evalsets as me

    return Call("POST", "/v1/eval-sets", json=_body(name=name, items=read_records(items), note=note,
                                                    overlap_index_id=overlap_index_id),
                cast=me.EvalSetVersion.model_validate)


def list_eval_sets() -> Call[list[me.EvalSetSummary]]:
    from judge_client import _models_evalsets as me

    return Call("GET", "/v1/eval-sets", cast=lambda rows: [me.EvalSetSummary.model_validate(r) for r in rows])


def eval_set_history(name: str) -> Call[me.EvalSetHistory]:
    from judge_client import _models_evalsets as me

    return Call("GET", f"/v1/eval-sets/{quote(name, safe='')}", cast=me.EvalSetHistory.model_validate)


def get_eval_set(name: str, version: int) -> Call[me.EvalSetVersionWithItems]:
    from judge_client import _models_evalsets as me

    return Call("GET", f"/v1/eval-sets/{quote(name, safe='')}/versions/{version}",
                cast=me.EvalSetVersionWithItems.model_validate)


def diff_eval_set(name: str, from_version: int, to_version: int | None) -> Call[me.EvalSetDiff]:
    from judge_client import _models_evalsets as me

    return Call("GET", f"/v1/eval-sets/{quote(name, safe='')}/diff",
                params=_body(**{"from": from_version, "to": to_version}), cast=me.EvalSetDiff.model_validate)
