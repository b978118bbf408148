"""Models and calls of the memorization endpoints: overlap indexes, regurgitation, contamination.

The calls live here beside their models (not in ``_api.py``) so that this feature is one file
on the client side; the sync and async clients send the same ``Call``s.
"""

from __future__ import annotations

import json as _json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from judge_client._api import Call
from judge_client._models import Estimate, ServiceModel


class OverlapIndex(ServiceModel):
    id: str
    content_hash: str
    name: str | None = None
    reused: bool = False
    n_docs: int
    n_tokens: int
    indexed_ngrams: int
    boilerplate_ngrams: int
    options: dict[str, Any]
    text_fields: list[str] | None = None
    bytes_on_disk: int
    memory_bytes: int
    created_at: str


class CopiedSpan(ServiceModel):
    """A copied span beside the training document it came from."""

    doc_index: int
    doc_id: str
    doc_token_offset: int
    text_token_offset: int
    length: int
    text_span: str
    training_span: str
    training_before: str
    training_after: str
    truncated: bool


class ScreenedOutput(ServiceModel):
    id: str
    flag: str
    n_tokens: int
    longest_span: int
    copied_tokens: int
    copied_fraction: float
    excluded_ngrams: dict[str, int]
    matches: list[CopiedSpan]


class CopyRates(ServiceModel):
    regurgitation: Estimate
    partial: Estimate
    any_copy: Estimate
    mean_copied_fraction: float


class PairedCopyRates(ServiceModel):
    base: Estimate
    tuned: Estimate
    difference: Estimate
    both: int
    only_tuned: int
    only_base: int
    neither: int


class Regurgitation(ServiceModel):
    id: str
    index_id: str
    source: str
    n: int
    thresholds: dict[str, int]
    tuned: CopyRates
    base: CopyRates | None = None
    comparison: dict[str, PairedCopyRates] | None = None
    items: list[ScreenedOutput]
    base_items: list[ScreenedOutput] | None = None
    created_at: str


class NearDuplicate(ServiceModel):
    doc_index: int
    doc_id: str
    jaccard: float


class ItemContamination(ServiceModel):
    id: str
    n_tokens: int
    contaminated: bool
    ngram_hit: bool
    palm_fraction: float | None = None
    palm_contaminated: bool
    longest_span: int
    near_duplicates: list[NearDuplicate]
    matches: list[CopiedSpan]
    outcome: float | None = None


class ContaminationImpact(ServiceModel):
    all_items: Estimate
    clean: Estimate
    contaminated: Estimate
    difference: Estimate
    headline: Estimate


class Contamination(ServiceModel):
    id: str
    index_id: str
    source: str
    n: int
    rule: str
    contaminated: int
    ngram_hits: int
    palm_contaminated: int
    near_duplicates: int
    contamination_rate: Estimate
    impact: ContaminationImpact | None = None
    items: list[ItemContamination]
    created_at: str


def _clean(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def create_overlap_index(records: Sequence[Mapping[str, Any]] | None = None, path: str | Path | None = None,
                         **options: Any) -> Call[OverlapIndex]:
    if (records is None) == (path is None):
        raise ValueError("give exactly one of records= or path=")
    if path is not None:
        p = Path(path)
        return Call("POST", "/v1/overlap-indexes/upload", files={"file": (p.name, p.read_bytes())},
                    data={"options": _json.dumps(_clean(options))}, cast=OverlapIndex.model_validate)
    return Call("POST", "/v1/overlap-indexes", json={"records": list(records or [])} | _clean(options),
                cast=OverlapIndex.model_validate)


def get_overlap_index(index_id: str) -> Call[OverlapIndex]:
    return Call("GET", f"/v1/overlap-indexes/{quote(index_id, safe='')}", cast=OverlapIndex.model_validate)


def regurgitation(index_id: str, outputs: Sequence[Mapping[str, Any]] | None, run_id: str | None,
                  **options: Any) -> Call[Regurgitation]:
    body = _clean({"index_id": index_id, "outputs": list(outputs) if outputs is not None else None, "run_id": run_id})
    return Call("POST", "/v1/regurgitation", json=body | _clean(options), cast=Regurgitation.model_validate)


def get_regurgitation(report_id: str) -> Call[Regurgitation]:
    return Call("GET", f"/v1/regurgitation/{quote(report_id, safe='')}", cast=Regurgitation.model_validate)


def contamination(index_id: str, items: Sequence[Mapping[str, Any]] | None, run_id: str | None,
                  **options: Any) -> Call[Contamination]:
    body = _clean({"index_id": index_id, "items": list(items) if items is not None else None, "run_id": run_id})
    return Call("POST", "/v1/contamination", json=body | _clean(options), cast=Contamination.model_validate)


def get_contamination(report_id: str) -> Call[Contamination]:
    return Call("GET", f"/v1/contamination/{quote(report_id, safe='')}", cast=Contamination.model_validate)
