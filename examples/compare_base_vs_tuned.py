"""Did the fine-tune beat the base model? An eval script around ``JudgeClient.evaluate``.

    judge serve &                                   # or point --url / JUDGE_URL at your service
    python examples/compare_base_vs_tuned.py examples/outputs.jsonl --baseline base --candidate tuned

The JSONL file holds one item per line: ``{"id", "prompt", "outputs": {"base": ..., "tuned": ...}}``
(``messages`` instead of ``prompt`` for multi-turn, optional ``reference``). The script prints
the one-line verdict, then the figures it rests on, each with its 95% CI and n.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from judge_client import Estimate, JudgeClient, JudgeServiceError


def load_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def describe(name: str, figure: Estimate | None) -> str:
    if figure is None or figure.estimate is None:
        return f"{name:<36} n/a"
    p = "" if figure.p_value is None else f"  p={figure.p_value:.3g}"
    return f"{name:<36} {figure.estimate:6.3f}  [{figure.ci_low:.3f}, {figure.ci_high:.3f}]  n={figure.n}{p}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outputs", type=Path, help="JSONL of items with both systems' outputs")
    parser.add_argument("--baseline", default="base")
    parser.add_argument("--candidate", default="tuned")
    parser.add_argument("--rubric", default="helpfulness")
    parser.add_argument("--judge", action="append", help="judge name (repeat for a panel; default: the service's)")
    parser.add_argument("--mode", default="pairwise", choices=["pairwise", "absolute", "both"])
    parser.add_argument("--url", default=None, help="service URL (default: $JUDGE_URL or http://127.0.0.1:8000)")
    args = parser.parse_args(argv)

    items = load_jsonl(args.outputs)
    try:
        with JudgeClient(args.url) as client:
            report = client.evaluate(items, baseline=args.baseline, candidate=args.candidate, rubric=args.rubric,
                                     judges=args.judge, mode=args.mode)
    except JudgeServiceError as e:  # the service's message says what to fix (and which field)
        print(f"error: {e}", file=sys.stderr)
        return 1

    print(report.verdict)
    print()
    if report.pairwise:
        print(describe("win rate", report.pairwise.win_rate))
        print(describe("length-controlled win rate", report.pairwise.length_controlled_win_rate))
    if report.absolute:
        print(describe("score difference (candidate - base)", report.absolute.score_difference))
    for warning in report.warnings:
        print(f"warning: {warning}")
    print(f"\nrun {report.run_id}: {report.progress.done}/{report.progress.total} items judged "
          f"by {', '.join(j if isinstance(j, str) else j.judge for j in report.judges)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
