"""Requests for ``/v1/evaluations``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from judge_client._api import Call, _body

if TYPE_CHECKING:  # imported lazily at run time, as the functions below do
    from judge_client._models_evaluations import Evaluation, EvaluationComparison, EvaluationRerun


def create_evaluation(*, baseline: str, candidate: str, name: str | None, run_id: str | None,
                      training_analysis_id: str | None, benchmark_comparison_id: str | None, perplexity: Mapping[str, Any] | None,
                      task_metrics: Mapping[str, Any] | None, primary_metric: str | None,
                      eval_set: tuple[str, int] | None) -> Call[Evaluation]:
    from judge_client import _models_evaluations as mev

    layers: dict[str, Any] = {}
    if run_id is not None:
        layers["judge"] = {"run_id": run_id}
    if training_analysis_id is not None:
        layers["training"] = {"analysis_id": training_analysis_id}
    if benchmark_comparison_id is not None:
        layers["benchmarks"] = {"comparison_id": benchmark_comparison_id}
    if perplexity is not None:
        layers["perplexity"] = {"result": dict(perplexity)}
    if task_metrics is not None:
        layers["task_metrics"] = _body(result=dict(task_metrics), primary=primary_metric)
    return Call("POST", "/v1/evaluations", json=_body(
        baseline=baseline, candidate=candidate, name=name, layers=layers,
        eval_set=None if eval_set is None else {"name": eval_set[0], "version": eval_set[1]}),
        cast=mev.Evaluation.model_validate)


def get_evaluation(evaluation_id: str) -> Call[Evaluation]:
    from judge_client import _models_evaluations as mev

    return Call("GET", f"/v1/evaluations/{evaluation_id}", cast=mev.Evaluation.model_validate)


def compare_evaluations(a: str, b: str) -> Call[EvaluationComparison]:
    from judge_client import _models_evaluations as mev

    return Call("GET", f"/v1/evaluations/{a}/compare/{b}", cast=mev.EvaluationComparison.model_validate)


def rerun_evaluation(evaluation_id: str, *, eval_set_version: int | None,
                     outputs: Sequence[Mapping[str, Any]] | None, name: str | None) -> Call[EvaluationRerun]:
    from judge_client import _models_evaluations as mev

    return Call("POST", f"/v1/evaluations/{evaluation_id}/rerun", json=_body(
        eval_set_version=eval_set_version, name=name,
        outputs=None if outputs is None else [{"id": str(o["id"]), "outputs": dict(o["outputs"])} for o in outputs]),
        cast=mev.EvaluationRerun.model_validate)


def create_evaluation_raw(*, baseline: str, candidate: str, name: str | None, layers: Mapping[str, Any],
                          eval_set: tuple[str, int] | None) -> Call[Evaluation]:
    from judge_client import _models_evaluations as mev

    return Call("POST", "/v1/evaluations", json=_body(
        baseline=baseline, candidate=candidate, name=name, layers=dict(layers),
        eval_set=None if eval_set is None else {"name": eval_set[0], "version": eval_set[1]}),
        cast=mev.Evaluation.model_validate)
