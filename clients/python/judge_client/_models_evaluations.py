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
