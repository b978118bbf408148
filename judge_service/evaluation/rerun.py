"""Re-running an evaluation's judge layer on a newer eval-set version: which items it needs.

"Re-running an older model on the new version is one call." An item unchanged between the two
versions keeps the outputs the old run judged; an item added or changed needs both systems' new
outputs from the caller (nothing here generates text); a removed item is dropped. Items with only
held-out ``text`` (no prompt) are not judge items and are left to the perplexity layer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from judge_service.evalsets.content import Diff


@dataclass(frozen=True)
class RerunItems:
    items: list[dict[str, Any]]
    reused: list[str] = field(default_factory=list)  # unchanged: the old run's outputs
    supplied: list[str] = field(default_factory=list)  # added or changed: the caller's outputs
    missing: list[str] = field(default_factory=list)  # added or changed, and no outputs given
    dropped: list[str] = field(default_factory=list)  # in the old run, not in the new version


def _reference(value: Any) -> str | None:
    if isinstance(value, list):  # several references: the run's judge sees the first, as task metrics do
        return str(value[0]) if value else None
    return None if value is None else str(value)


def rerun_items(new_items: Sequence[Mapping[str, Any]], changes: Diff, old_run_items: Mapping[str, Mapping[str, Any]],
                supplied: Mapping[str, Mapping[str, str]]) -> RerunItems:
    out = RerunItems(items=[], dropped=sorted(set(old_run_items) & set(changes.removed)))
    fresh = set(changes.added) | set(changes.changed)
    for item in sorted(new_items, key=lambda i: str(i["id"])):
        iid = str(item["id"])
        if item.get("prompt") is None and not item.get("messages"):
            continue
        old = old_run_items.get(iid)
        if iid in supplied:
            outputs, metadata = dict(supplied[iid]), {}
            out.supplied.append(iid)
        elif iid not in fresh and old is not None:
            outputs, metadata = dict(old["outputs"]), dict(old.get("metadata") or {})
            out.reused.append(iid)
        else:
            out.missing.append(iid)
            continue
        run_item: dict[str, Any] = {"id": iid, "outputs": outputs, "metadata": metadata}
        if iid not in supplied and old is not None:
            # Reused outputs keep what belongs to them: each system's own earlier turns (a turn-2
            # answer means nothing without its system's turn 1) and the verdicts imported on them.
            for key in ("histories", "external_judgments"):
                if old.get(key):
                    run_item[key] = old[key]
        if item.get("messages"):
            run_item["messages"] = [{"role": m["role"], "content": m["content"]} for m in item["messages"]]
        else:
            run_item["prompt"] = item["prompt"]
        reference = _reference(item.get("reference"))
        if reference is not None:
            run_item["reference"] = reference
        out.items.append(run_item)
    return out
