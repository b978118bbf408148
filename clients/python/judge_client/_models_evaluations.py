"""Models of ``/v1/evaluations`` answers."""

from __future__ import annotations

from datetime import datetime

from judge_client._models import ServiceModel


class EvaluationLayer(ServiceModel):
    layer: str
    status: str
    headline: str
    reason: str | None = None
    action: str | None = None


class EvaluationSummary(ServiceModel):
    verdict: str
    line: str
    rule: str
    concerns: list[str] = []
    missing: list[str] = []


class EvaluationEvalSet(ServiceModel):
    name: str
    version: int
    content_hash: str


class Evaluation(ServiceModel):
    id: str
    name: str | None = None
    created_at: datetime
    baseline: str
    candidate: str
    status: str
    eval_set: EvaluationEvalSet | None = None
    layers: list[EvaluationLayer]
    summary: EvaluationSummary
    references: dict[str, str] = {}
    report_html_url: str

    @property
    def finished(self) -> bool:
        return self.status == "done"


class EvaluationComparison(ServiceModel):
    a: Evaluation
    b: Evaluation
    comparable: bool
    warnings: list[str] = []
    added: list[str] = []
    removed: list[str] = []
    changed: list[str] = []


class EvaluationEvalSetRef(ServiceModel):
    name: str
    version: int


class EvaluationRerun(ServiceModel):
    """``POST /v1/evaluations/{id}/rerun``: the judge layer again on a newer eval-set version."""

    evaluation: Evaluation
    run_id: str
    eval_set: EvaluationEvalSetRef
    reused: list[str] = []
    supplied: list[str] = []
    dropped: list[str] = []
    not_carried: list[str] = []
