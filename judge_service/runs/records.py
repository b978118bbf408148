"""Stored item verdicts → the flat records the report statistics take."""

from __future__ import annotations

from judge_service.runs.report import AbsoluteRecord, ItemInfo, PairwiseRecord


def to_records(items: list[dict], results: list[dict | None], spec: dict) -> tuple[list[PairwiseRecord], list[AbsoluteRecord], list[ItemInfo]]:
    pairwise: list[PairwiseRecord] = []
    absolute: list[AbsoluteRecord] = []
    infos: list[ItemInfo] = []
    b, c = spec["baseline"], spec["candidate"]
    for item, result in zip(items, results):
        iid = item["id"]
        infos.append(ItemInfo(item_id=iid, candidate_text=item["outputs"][c], baseline_text=item["outputs"][b],
                              candidate_meta=item.get("metadata", {}).get(c, {}),
                              baseline_meta=item.get("metadata", {}).get(b, {})))
        if not result:
            continue
        for j in (result.get("pairwise") or {}).get("judges", []):
            for o in j["orders"]:
                if not o["winners"]:
                    pairwise.append(PairwiseRecord(iid, j["judge"], o["order"], 0, None, None))
                for k, (w, p) in enumerate(zip(o["winners"], o["prob_candidate"])):
                    pairwise.append(PairwiseRecord(iid, j["judge"], o["order"], k, w, p))
        for role in ("baseline", "candidate"):
            for g in ((result.get("absolute") or {}).get(role) or {}).get("judges", []):
                if g["score"] is None:
                    absolute.append(AbsoluteRecord(iid, g["judge"], role, 0, None, {}))
                for k, (score, crit) in enumerate(zip(g["samples"], g["sample_criteria"])):
                    absolute.append(AbsoluteRecord(iid, g["judge"], role, k, score, crit))
    return pairwise, absolute, infos
