"""Models of ``/v1/training-logs/analyses`` answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from judge_client._models import ServiceModel


class TrainingFlag(ServiceModel):
    code: str
    message: str
    advice: str | None = None


class TrainingCheckpoint(ServiceModel):
    step: int
    epoch: float | None = None
    value: float


class TrainingOnset(ServiceModel):
    step: int
    interval: tuple[int, int]
    epoch: float | None = None
    kendall_tau: float | None = None
    p_value: float | None = None


class EarlyStopOutcome(ServiceModel):
    patience: int
    threshold: float
    stopped_at_step: int | None = None
    chosen_step: int
    chosen_value: float
    regret: float
    steps_saved: int


class ExternalFigureNote(ServiceModel):
    name: str
    best_step: int
    agrees_with_loss: bool
    message: str


class TrainingAnalysis(ServiceModel):
    id: str
    created_at: datetime
    sources: list[str]
    format: str
    metric: str
    greater_is_better: bool
    verdict: str
    reason: str
    advice: str | None = None
    n_eval: int
    noise: float | None = None
    band_width: float | None = None
    best: TrainingCheckpoint | None = None
    earliest_equivalent: TrainingCheckpoint | None = None
    equivalent_steps: list[int] = []
    last: TrainingCheckpoint | None = None
    rise: float | None = None
    onset: TrainingOnset | None = None
    train_falling_after_best: bool | None = None
    wasted_fraction: float | None = None
    early_stopping: list[EarlyStopOutcome] = []
    flags: list[TrainingFlag] = []
    external: list[ExternalFigureNote] = []
    eval_series: list[str] = []
    series: dict[str, int] = {}
    results_files: dict[str, Any] = {}
    chart_url: str
    chart_svg: str | None = None
