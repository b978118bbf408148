"""Paired arms built from the real negotiationtom files: the tuned arm is the base run with chosen
docs perturbed (the data is read from ../shared, never copied into the repo)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

NEGO = SHARED_DATA / "lm_eval" / "negotiationtom"
RESULTS = NEGO / "results_2026-07-08T16-04-34.219874.json"
SAMPLES = NEGO / "samples_negotiationtom_belief_2026-07-08T16-04-34.219874.jsonl"
NL2FOAM = SHARED_DATA / "lm_eval" / "nl2foam"


def sample_lines() -> list[dict[str, Any]]:
    return [json.loads(line) for line in SAMPLES.read_text().splitlines() if line.strip()]


def write_arm(folder: Path, *, flip: set[int] = frozenset(), edit: Callable[[dict[str, Any]], None] | None = None,
              old_schema: bool = False) -> Path:
    """An lm-eval output folder: the real results file and belief samples, with the docs in ``flip``
    given the opposite acc (and the results file's belief acc recomputed to match)."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = sample_lines()
    for rec in lines:
        if int(rec["doc_id"]) in flip:
            rec["acc"] = 1.0 - float(rec["acc"])
        if edit is not None:
            edit(rec)
        if old_schema:
            rec.pop("filter", None)
            rec.pop("metrics", None)
    results = json.loads(RESULTS.read_text())
    acc = sum(float(r["acc"]) for r in lines) / len(lines)
    results["results"]["negotiationtom_belief"]["acc,none"] = acc
    (folder / RESULTS.name).write_text(json.dumps(results))
    (folder / SAMPLES.name).write_text("\n".join(json.dumps(r) for r in lines) + "\n")
    return folder


def nl2foam_arm(folder: Path, *names: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for n in names:
        (folder / n).write_bytes((NL2FOAM / n).read_bytes())
    return folder


QWEN = ("results_2025-12-17T21-17-00.220744.json", "results_2025-12-17T21-20-46.994902.json")
AUTOCFD = ("results_2025-12-17T20-51-30.688049.json", "results_2025-12-17T20-55-03.328837.json")
SFT = ("results_2025-12-17T20-24-58.608862.json", "results_2025-12-17T20-28-43.535870.json")
