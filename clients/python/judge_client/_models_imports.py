"""Models of ``/v1/imports/*`` answers (AlpacaEval and MT-Bench files)."""

from __future__ import annotations

from typing import Any

from judge_client._models import ServiceModel


class ImportedRunItem(ServiceModel):
    """A run item: ``prompt`` for single-turn items; ``messages`` (the shared user turns) and
    ``histories`` (each system's own earlier answers) for multi-turn ones; imported verdicts, if any,
    in ``external_judgments`` (judge name -> verdicts)."""

    id: str
    prompt: str | None = None
    messages: list[dict[str, str]] | None = None
    histories: dict[str, list[str]] | None = None
    outputs: dict[str, str]
    metadata: dict[str, dict[str, Any]] = {}
    external_judgments: dict[str, dict[str, Any]] | None = None


class AlpacaArm(ServiceModel):
    generator: str
    baseline_generator: str
    annotator: str | None = None
    win_rate: float
    standard_error: float | None = None
    n_wins: int
    n_wins_base: int
    n_draws: int
    n_total: int
    n_missing: int
    discrete_win_rate: float
    avg_length: float


class AlpacaEvalImport(ServiceModel):
    baseline: str
    candidate: str
    items: list[ImportedRunItem]
    only_baseline: list[str] = []
    only_candidate: list[str] = []
    duplicates: list[str] = []
    annotations: dict[str, AlpacaArm] = {}
    comparable: bool | None = None
    warnings: list[str] = []


class MTBenchSingleScores(ServiceModel):
    model: str
    by_turn: dict[int, float]
    average: float | None = None
    n: int
    n_unparseable: int


class MTBenchPairwiseRow(ServiceModel):
    model: str
    win: int
    loss: int
    tie: int
    win_rate: float
    loss_rate: float
    win_rate_adjusted: float


class MTBenchPairConsistency(ServiceModel):
    n: int
    consistent: int
    errors: int
    rate: float | None = None


class MTBenchImport(ServiceModel):
    baseline: str
    candidate: str
    items: list[ImportedRunItem]
    missing_baseline: list[int] = []
    missing_candidate: list[int] = []
    single_scores: list[MTBenchSingleScores] = []
    pairwise: list[MTBenchPairwiseRow] = []
    pair_consistency: MTBenchPairConsistency | None = None  # the external judge's two orders agreeing
    warnings: list[str] = []


class RecordsRunItem(ServiceModel):
    id: str
    prompt: str | None = None
    messages: list[dict[str, Any]] | None = None
    reference: str | None = None
    outputs: dict[str, str]


class RecordsImport(ServiceModel):
    """``POST /v1/imports/records``: rows of a JSONL/CSV file or a ``datasets`` split → run items."""

    baseline: str
    candidate: str
    items: list[RecordsRunItem]
