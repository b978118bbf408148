"""What a benchmark arm holds once read: per-task metric values, per-doc samples and run metadata."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class MetricValue:
    """One ``"<metric>,<filter>"`` entry of a results file. ``stderr`` is None when the file says "N/A"."""

    value: float
    stderr: float | None
    stderr_reported: bool


@dataclass(frozen=True)
class SampleRow:
    """One line of an lm-eval samples file: the doc's identity hashes and its per-metric values."""

    doc_id: str
    doc_hash: str | None
    prompt_hash: str | None
    target_hash: str | None
    metrics: dict[str, float]


@dataclass
class TaskInfo:
    """What a task was run with (parity compares these field by field)."""

    version: Any = None
    n_shot: Any = None
    n_effective: int | None = None
    n_original: int | None = None
    task_hash: str | None = None
    higher_is_better: dict[str, bool] = field(default_factory=dict)


@dataclass
class BenchmarkRun:
    """One arm (base, tuned or a checkpoint) as read from its files."""

    label: str
    source: str  # "lm-eval" | "lighteval"
    # (task, filter) -> metric -> value
    results: dict[tuple[str, str], dict[str, MetricValue]] = field(default_factory=dict)
    tasks: dict[str, TaskInfo] = field(default_factory=dict)
    groups: dict[str, list[str]] = field(default_factory=dict)
    # (task, filter) -> doc_id -> row
    samples: dict[tuple[str, str], dict[str, SampleRow]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)  # run-wide: limit, seeds, chat template sha, ...
    model: str | None = None
    files: list[str] = field(default_factory=list)
