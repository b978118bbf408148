"""Models of the training-log analysis answers (POST /v1/training-logs/analyses)."""

from __future__ import annotations

from typing import Any

from judge_client._models import ServiceModel


class TrainingFlag(ServiceModel):
    code: str
    severity: str
    message: str


class TrainingAnalysis(ServiceModel):
    """A stored analysis. ``verdict`` is one of overfitting, possible_overfitting, plateau,
    no_overfitting, diverging, cannot_judge; ``primary`` holds best step, band, onset."""

    id: str
    name: str | None = None
    created_at: str
    verdict: str
    metric: str | None = None
    reasons: list[str] = []
    flags: list[TrainingFlag] = []
    primary: dict[str, Any] | None = None
    secondary: list[dict[str, Any]] = []
    early_stopping: list[dict[str, Any]] = []
    epoch_advice: dict[str, Any] | None = None
    external: list[dict[str, Any]] = []
    paired: dict[str, Any] | None = None
    disagreements: list[str] = []
    formats: list[str] = []
    sources: list[str] = []
    notes: list[str] = []
    chart_url: str

    def flag_codes(self) -> list[str]:
        return [f.code for f in self.flags]


class TrainingAnalysisSummary(ServiceModel):
    id: str
    name: str | None = None
    created_at: str
    verdict: str
    metric: str | None = None
