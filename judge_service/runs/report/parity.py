"""Arm parity: generation metadata that differs between the arms makes the comparison unfair.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from judge_service.runs.report.inputs import MODEL_IDENTITY_KEYS, ItemInfo


def arm_parity(items: Sequence[ItemInfo]) -> list[str]:
    """One warning per metadata key (other than model identity) that differs between arms."""
    differing: dict[str, list[tuple[object, object]]] = defaultdict(list)
    for item in items:
        keys = (set(item.candidate_meta) | set(item.baseline_meta)) - MODEL_IDENTITY_KEYS
        for key in keys:
            c, b = item.candidate_meta.get(key, _MISSING), item.baseline_meta.get(key, _MISSING)
            if c != b:
                differing[key].append((c, b))
    out = []
    for key in sorted(differing):
        c, b = differing[key][0]
        why = (" — a mismatched chat template silently invalidates a base-vs-tuned comparison"
               if "template" in key else "")
        out.append(
            f"arm parity: '{key}' differs between candidate and baseline in {len(differing[key])} of {len(items)} "
            f"items (e.g. candidate {_short(c)} vs baseline {_short(b)}){why}; regenerate both arms with the same {key}"
        )
    return out


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
