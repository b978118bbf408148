"""Comparing two runs' headlines, and refusing to let a rubric change pass silently.

Two runs judged with different rubric versions (or wordings) measured different things: their
figures are shown side by side, never pooled, and the comparison warns and names the difference
with a unified diff of the rubric texts the judges read (stored with each run when it was made).
"""

from __future__ import annotations

import difflib
from typing import Any


def _wordings(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return list(spec.get("variants") or [spec["rubric"]])


def _label(ref: dict[str, Any]) -> str:
    variant = ref.get("variant", "default")
    return f"{ref['name']}@{ref['version']}" + ("" if variant == "default" else f":{variant}")


def rubric_diff(spec_a: dict[str, Any], spec_b: dict[str, Any]) -> str | None:
    """A unified diff of the two runs' rubric texts; None when the texts are unknown (older runs)."""
    texts_a, texts_b = spec_a.get("rubric_texts"), spec_b.get("rubric_texts")
    if not texts_a or not texts_b:
        return None
    a = "".join(texts_a[k] for k in sorted(texts_a))
    b = "".join(texts_b[k] for k in sorted(texts_b))
    return "".join(difflib.unified_diff(a.splitlines(keepends=True), b.splitlines(keepends=True),
                                        fromfile=f"run {spec_a['run_id']}", tofile=f"run {spec_b['run_id']}"))


def compare_runs(spec_a: dict[str, Any], report_a: dict[str, Any], spec_b: dict[str, Any],
                 report_b: dict[str, Any]) -> dict[str, Any]:
    hashes_a = sorted(w["hash"] for w in _wordings(spec_a))
    hashes_b = sorted(w["hash"] for w in _wordings(spec_b))
    same = hashes_a == hashes_b
    warnings: list[str] = []
    diff = None
    if not same:
        names_a = ", ".join(_label(w) for w in _wordings(spec_a))
        names_b = ", ".join(_label(w) for w in _wordings(spec_b))
        diff = rubric_diff(spec_a, spec_b)
        changed = "" if diff is None else f"; {_count_changes(diff)} changed line(s) in the rubric text (rubric_diff)"
        warnings.append(f"the runs used different rubric versions: {names_a} (hash {', '.join(h[:8] for h in hashes_a)}…) "
                        f"vs {names_b} (hash {', '.join(h[:8] for h in hashes_b)}…); their figures measure different "
                        f"things and are not pooled{changed}")
    if spec_a.get("judges") != spec_b.get("judges"):
        warnings.append(f"the runs used different judges: {spec_a.get('judges')} vs {spec_b.get('judges')}")
    return {
        "runs": [_summary(spec_a, report_a), _summary(spec_b, report_b)],
        "same_rubric": same,
        "rubric_diff": diff,
        "warnings": warnings,
    }


def _count_changes(diff: str) -> int:
    return sum(1 for line in diff.splitlines()
               if line[:1] in "+-" and not line.startswith(("+++", "---")))


def _summary(spec: dict[str, Any], report: dict[str, Any]) -> dict[str, Any]:
    return {"id": spec["run_id"], "rubric": spec["rubric"], "rubric_variants": spec.get("variants") or [],
            "judges": spec.get("judges"), "verdict": report.get("verdict"),
            "headline_metric": report.get("headline_metric"), "headline": report.get("headline"),
            "n_items": report.get("n_items")}
