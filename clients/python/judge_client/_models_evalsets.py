"""Models of ``/v1/eval-sets`` answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from judge_client._models import ServiceModel


class EvalSetContamination(ServiceModel):
    report_id: str
    index_id: str
    n: int
    contaminated: int
    flagged: list[str] = []
    warning: str | None = None


class EvalSetVersion(ServiceModel):
    name: str
    version: int
    content_hash: str
    n_items: int
    note: str | None = None
    created_at: datetime
    created: bool | None = None
    changes: str | None = None
    contamination: EvalSetContamination | None = None  # on save with overlap_index_id


class EvalSetVersionWithItems(EvalSetVersion):
    items: list[dict[str, Any]]


class EvalSetSummary(ServiceModel):
    name: str
    latest_version: int
    n_items: int


class EvalSetHistory(ServiceModel):
    name: str
    versions: list[EvalSetVersion]


class EvalSetDiff(ServiceModel):
    name: str
    from_version: int
    to_version: int
    identical: bool
    added: list[str]
    removed: list[str]
    changed: list[str]
    unchanged: int
    summary: str
