"""Pure content identity for eval sets: canonical item hashes, the set's hash, and diffs.

An item's identity is the sha256 of its canonical JSON (sorted keys, no whitespace), so key order
and formatting never make a new version; the set's hash is the sha256 over its items' (id, hash)
pairs in id order, so item order does not either (an eval set is a set, keyed by id).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


def item_hash(item: Mapping[str, Any]) -> str:
    canonical = json.dumps(item, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def set_hash(item_hashes: Mapping[str, str]) -> str:
    digest = hashlib.sha256()
    for item_id in sorted(item_hashes):
        digest.update(item_id.encode("utf-8") + b"\x00" + item_hashes[item_id].encode("ascii") + b"\n")
    return digest.hexdigest()


@dataclass(frozen=True)
class Diff:
    added: list[str]
    removed: list[str]
    changed: list[str]
    unchanged: int

    @property
    def identical(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def summary(self) -> str:
        if self.identical:
            return "identical items"
        parts = [f"{len(self.added)} added", f"{len(self.removed)} removed", f"{len(self.changed)} changed"]
        return ", ".join(parts) + f", {self.unchanged} unchanged"


def diff(old: Mapping[str, str], new: Mapping[str, str]) -> Diff:
    """Item ids added, removed and changed going from ``old`` to ``new`` (id → item hash)."""
    return Diff(added=sorted(set(new) - set(old)), removed=sorted(set(old) - set(new)),
                changed=sorted(i for i in set(old) & set(new) if old[i] != new[i]),
                unchanged=sum(1 for i in set(old) & set(new) if old[i] == new[i]))


def hashes_of(items: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    return {str(item["id"]): item_hash(item) for item in items}


def _prompt_of(item: Mapping[str, Any]) -> Any:
    messages = item.get("messages")
    if messages:  # compared by role and content: optional message fields do not make another prompt
        return [(m.get("role"), m.get("content")) for m in messages]
    return item.get("prompt")


def run_items_problem(version_items: Sequence[Mapping[str, Any]],
                      run_items: Sequence[Mapping[str, Any]]) -> tuple[int, str] | None:
    """The first run item that is not the eval-set item it claims to be: (its position, why), or None.

    A run made "on eval set v2" must hold v2's items: an id v2 lacks, or a prompt that differs
    from v2's, would let figures from another version pass as this one's.
    """
    by_id = {str(i["id"]): i for i in version_items}
    for pos, item in enumerate(run_items):
        stored = by_id.get(str(item["id"]))
        if stored is None:
            return pos, f"item '{item['id']}' is not in this eval-set version"
        want, got = _prompt_of(stored), _prompt_of(item)
        if want is not None and got != want:
            return pos, f"item '{item['id']}' has a prompt that differs from this eval-set version's"
    return None
