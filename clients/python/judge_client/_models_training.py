"""Models of the training-log analysis answers (POST /v1/training-logs/analyses)."""

from __future__ import annotations

from typing import Any

from judge_client._models import Estimate, ServiceModel


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


class SweepCheckpoint(ServiceModel):
    step: int
    roles: list[str]
    system: str
    run_id: str
    status: str
    metric_value: float | None = None
    win_rate: Estimate | None = None


class CheckpointSweep(ServiceModel):
    """A checkpoint sweep: each swept checkpoint's win rate against base beside its loss.
    ``agreement`` is agree, disagree, cannot_tell or pending; ``statement`` says it in a sentence."""

    analysis_id: str
    metric: str | None = None
    rubric: str
    baseline: str
    checkpoints: list[SweepCheckpoint]
    agreement: str
    judges_prefer: str | None = None
    statement: str
