"""Requests for ``/v1/training-logs/analyses``: log files read on the client, sent as JSON.

A path may be a file or a folder: a Trainer ``output_dir`` (its ``trainer_state.json`` and every
``checkpoint-*/trainer_state.json``; the service keeps the newest), a LLaMA-Factory output dir
(``trainer_log.jsonl``), W&B CSV exports, an MLflow run's ``metrics/`` files, and ``*results.json``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


from judge_client import _models_training as mt
from judge_client._api import Call, _body

_NAMES = ("trainer_state.json", "trainer_log.jsonl")


def collect(paths: Sequence[str | Path]) -> list[dict[str, str]]:
    files: list[dict[str, str]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            files.append({"name": path.name, "content": path.read_text(encoding="utf-8")})
            continue
        if not path.is_dir():
            raise FileNotFoundError(f"{path}: no such file or folder")
        found = [p for p in sorted(path.rglob("*")) if p.is_file() and (
            p.name in _NAMES or p.name.endswith("results.json") or p.suffix == ".csv" or p.parent.name == "metrics")]
        if not found:
            raise FileNotFoundError(f"{path} holds no trainer_state.json, trainer_log.jsonl, CSV or MLflow metrics")
        files.extend({"name": str(p.relative_to(path)), "content": p.read_text(encoding="utf-8")} for p in found)
    return files


def analyze(*, paths: Sequence[str | Path], metric: str | None, eval_set: str | None,
            greater_is_better: bool | None, external: Mapping[str, Mapping[int, float]] | None,
            include_chart: bool) -> Call:
    ext: dict[str, dict[str, float]] | None = (
        None if external is None else {k: {str(s): float(v) for s, v in d.items()} for k, d in external.items()})
    return Call("POST", "/v1/training-logs/analyses", json=_body(
        files=collect(paths), metric=metric, eval_set=eval_set, greater_is_better=greater_is_better, external=ext,
        include_chart=include_chart or None),
        cast=mt.TrainingAnalysis.model_validate)


def get(analysis_id: str, include_chart: bool) -> Call:
    return Call("GET", f"/v1/training-logs/analyses/{analysis_id}", params=_body(include_chart=include_chart or None),
                cast=mt.TrainingAnalysis.model_validate)




def create_evaluation(*, baseline: str, candidate: str, name: str | None, run_id: str | None,
                      training_analysis_id: str | None, perplexity: Mapping[str, Any] | None,
                      task_metrics: Mapping[str, Any] | None, primary_metric: str | None,
                      eval_set: tuple[str, int] | None) -> Call:
    from judge_client import _models_evaluations as mev

    layers: dict[str, Any] = {}
    if run_id is not None:
        layers["judge"] = {"run_id": run_id}
    if training_analysis_id is not None:
        layers["training"] = {"analysis_id": training_analysis_id}
    if perplexity is not None:
        layers["perplexity"] = {"result": dict(perplexity)}
    if task_metrics is not None:
        layers["task_metrics"] = _body(result=dict(task_metrics), primary=primary_metric)
    return Call("POST", "/v1/evaluations", json=_body(
        baseline=baseline, candidate=candidate, name=name, layers=layers,
        eval_set=None if eval_set is None else {"name": eval_set[0], "version": eval_set[1]}),
        cast=mev.Evaluation.model_validate)


def get_evaluation(evaluation_id: str) -> Call:
    from judge_client import _models_evaluations as mev

    return Call("GET", f"/v1/evaluations/{evaluation_id}", cast=mev.Evaluation.model_validate)
