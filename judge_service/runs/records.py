"""A run item's stored verdict, as a versioned record, and its flattening into report records.

``ItemResult`` is what ``runs/evaluate.py`` stores per item (JSON in ``run_items.result``) and what
``GET /v1/runs/{id}/items`` returns. ``version`` is the record's schema: a reader of an older record
(a run resumed by a newer service) validates it here, not by string keys spread across modules.
Version 1 is the first release's shape (records written before the field existed read as 1).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from judge_service.bias.probes import ProbeRow
from judge_service.runs.report import AbsoluteRecord, ItemInfo, PairwiseRecord
from judge_service.runs.report.inputs import VARIANT_STRIDE

RECORD_VERSION = 1
Role = Literal["baseline", "candidate", "tie"]


class PairwiseOrderRecord(BaseModel):
    order: Literal["AB", "BA"]
    winners: list[Role] = Field(description="per sample, in terms of the systems (AB shows the baseline first)")
    prob_candidate: list[float]
    error: str | None


class PairwiseJudgeRecord(BaseModel):
    judge: str
    model: str
    winner: Role | None
    prob_candidate: float | None
    consistent: bool | None
    cost_usd: float | None
    error: str | None
    orders: list[PairwiseOrderRecord]


class PairwiseResult(BaseModel):
    winner: Role | None
    prob_candidate: float | None
    consistent: bool | None
    judges: list[PairwiseJudgeRecord]


class GradeJudgeRecord(BaseModel):
    judge: str
    model: str
    score: float | None
    samples: list[float]
    sample_criteria: list[dict[str, float]]
    cost_usd: float | None
    error: str | None


class GradeRecord(BaseModel):
    score: float | None
    criteria: dict[str, float | None]
    judges: list[GradeJudgeRecord]


class AbsoluteResult(BaseModel):
    baseline: GradeRecord
    candidate: GradeRecord


class VariantResult(BaseModel):
    """An item judged under one rubric wording (runs over several variants)."""

    variant: str
    rubric_hash: str
    pairwise: PairwiseResult | None = None
    absolute: AbsoluteResult | None = None


class LengthProbeRecord(BaseModel):
    """One length-probe rewrite of the item's baseline answer, judged against the original
    (shown as A in order AB: ``prob_candidate`` here is P(rewrite preferred))."""

    kind: Literal["verbose", "concise"]
    rewrite: str | None = Field(description="the rewritten answer; None when the rewriter failed")
    pairwise: PairwiseResult | None = None
    error: str | None = None


class ItemResult(BaseModel):
    version: int = RECORD_VERSION
    pairwise: PairwiseResult | None = None
    absolute: AbsoluteResult | None = None
    # A run over several rubric variants keeps each wording's verdicts apart (never mixed in one
    # record); the top-level pairwise/absolute are then absent.
    variants: list[VariantResult] | None = None
    # Items sampled for length probes (spec.length_probes): the baseline's answer rewritten and judged.
    length_probes: list[LengthProbeRecord] | None = None

    def to_json(self) -> dict[str, object]:
        """The stored form: modes that were not judged are absent, as in version 1 records."""
        absent = {k for k in ("pairwise", "absolute", "variants", "length_probes") if getattr(self, k) is None}
        return self.model_dump(mode="json", exclude=absent)

    def by_variant(self) -> list[tuple[str, PairwiseResult | None, AbsoluteResult | None]]:
        if self.variants is None:
            return [("default", self.pairwise, self.absolute)]
        return [(v.variant, v.pairwise, v.absolute) for v in self.variants]

    @classmethod
    def read(cls, stored: dict[str, object] | None) -> ItemResult | None:
        return None if not stored else cls.model_validate(stored)


def to_records(items: list[dict[str, object]], results: list[ItemResult | None], baseline: str,
               candidate: str) -> tuple[list[PairwiseRecord], list[AbsoluteRecord], list[ItemInfo]]:
    pairwise: list[PairwiseRecord] = []
    absolute: list[AbsoluteRecord] = []
    infos: list[ItemInfo] = []
    for item, result in zip(items, results):
        iid = str(item["id"])
        outputs: dict[str, str] = item["outputs"]  # type: ignore[assignment]
        metadata: dict[str, dict[str, object]] = item.get("metadata") or {}  # type: ignore[assignment]
        infos.append(ItemInfo(item_id=iid, candidate_text=outputs[candidate], baseline_text=outputs[baseline],
                              candidate_meta=metadata.get(candidate, {}), baseline_meta=metadata.get(baseline, {})))
        if result is None:
            continue
        for v, (variant, pair, graded) in enumerate(result.by_variant()):
            at = v * VARIANT_STRIDE
            for j in pair.judges if pair else []:
                for o in j.orders:
                    if not o.winners:
                        pairwise.append(PairwiseRecord(iid, j.judge, o.order, at, None, None, variant))
                    for k, (w, p) in enumerate(zip(o.winners, o.prob_candidate)):
                        pairwise.append(PairwiseRecord(iid, j.judge, o.order, at + k, w, p, variant))
            if graded is not None:
                for role, grades in (("baseline", graded.baseline), ("candidate", graded.candidate)):
                    for g in grades.judges:
                        if g.score is None:
                            absolute.append(AbsoluteRecord(iid, g.judge, role, at, None, {}, variant))
                        for k, (score, crit) in enumerate(zip(g.samples, g.sample_criteria)):
                            absolute.append(AbsoluteRecord(iid, g.judge, role, at + k, score, crit, variant))
    return pairwise, absolute, infos


def to_probe_rows(items: list[dict[str, object]], results: list[ItemResult | None], baseline: str) -> list[ProbeRow]:
    """The probes' rows for the length-control fit, one per rewrite and judge: the mean of that judge's
    scored calls' P(rewrite preferred) over both orders. Unscored rewrites give no row."""
    rows: list[ProbeRow] = []
    for item, result in zip(items, results):
        if result is None or not result.length_probes:
            continue
        outputs: dict[str, str] = item["outputs"]  # type: ignore[assignment]
        for probe in result.length_probes:
            if probe.rewrite is None or probe.pairwise is None:
                continue
            for j in probe.pairwise.judges:
                values = [p for o in j.orders for p in o.prob_candidate]
                if values:
                    rows.append(ProbeRow(str(item["id"]), probe.kind, sum(values) / len(values), probe.rewrite,
                                         outputs[baseline], j.judge))
    return rows
