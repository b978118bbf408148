"""Two pieces of every verdict's CPU, each beside what it replaced, measured in the same run.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/request_path_pieces.py [--texts 400]

- Judge-directed flags (engine/flags.py): ``judge_directed_spans`` with the word prefilter against
  every pattern run on the normalised text (what it did before), over real answers from
  ../shared/data (AlpacaEval's phi-2 outputs); microseconds per text.
- JSON columns (store/db.py ``json_text``): pydantic-core's encoder against ``json.dumps`` on a
  call record's JSON fields as the request path writes them (a judge prompt (the rubric's text
  around two real answers), the params, the parsed answer); microseconds per row.
"""

from __future__ import annotations

import argparse
import json
import sys
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from judge_service.engine.flags import PATTERNS, judge_directed_spans, normalise  # noqa: E402
from judge_service.store.db import json_text  # noqa: E402

SHARED = REPO.parent / "shared" / "data"


def every_pattern(text: str) -> list[str]:
    norm = normalise(text)
    return [m.group(0).strip() for m in (rx.search(norm) for rx in PATTERNS) if m]


def per_call_us(fn: Callable[[Any], object], items: list[Any], repeat: int = 5) -> float:
    """The best of ``repeat`` passes over ``items``, in microseconds per item."""
    def run() -> None:
        for x in items:
            fn(x)

    return min(timeit.repeat(run, number=1, repeat=repeat)) / len(items) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--texts", type=int, default=400)
    args = ap.parse_args()

    outputs = json.loads((SHARED / "alpaca_eval/results/phi-2/model_outputs.json").read_text())
    texts = [o["output"] for o in outputs[: args.texts]]
    mean_len = sum(map(len, texts)) / len(texts)
    assert all(judge_directed_spans(t) == every_pattern(t) for t in texts)  # the same answers, or the figure means nothing
    old, new = per_call_us(every_pattern, texts), per_call_us(judge_directed_spans, texts)
    print(f"flags, {len(texts)} real answers (mean {mean_len:.0f} characters): every pattern {old:.1f} us/text, "
          f"with the word prefilter {new:.1f} us/text ({old / new:.1f}x)")

    # A judge prompt's size and make-up: the rubric's own text around two real answers.
    prompt = f"{(REPO / 'rubrics/helpfulness/v1.yaml').read_text()}\n{texts[0]}\n{texts[1]}"
    row = {"params": {"temperature": 0.0, "max_tokens": 512, "seed": 0},
           "messages": [["system", "You are a careful, impartial judge. " * 20], ["user", prompt]],
           "parsed": {"fields": {"winner": {"label": "A", "probs": {"A": 0.7, "B": 0.2, "tie": 0.1}}}}}
    rows = [row] * 2000
    old, new = per_call_us(json.dumps, rows), per_call_us(json_text, rows)
    print(f"JSON columns, a call record of {len(json.dumps(row)):,} characters: json.dumps {old:.1f} us/row, "
          f"json_text {new:.1f} us/row ({old / new:.1f}x)")


if __name__ == "__main__":
    main()
