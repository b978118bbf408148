"""Overlap-metric throughput: items/s for each metric on --items items.

Items: PandaLM test-set responses (../shared/data/pandalm, real model outputs), response1 as
the prediction and response2 as the reference, cycled to --items. For each metric the script
times (a) the per-item statistics and the corpus score, and (b) the same plus the 95% BCa
bootstrap CI over items with --n-resamples resamples, and prints items/s for both.

    .venv/bin/python benchmarks/overlap_throughput.py [--items 1000] [--n-resamples 1000] [--embedding]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from itertools import cycle, islice
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
DATA = ROOT.parent / "shared" / "data" / "pandalm" / "testset-v1.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--n-resamples", type=int, default=1000)
    parser.add_argument("--embedding", action="store_true", help="also time the MiniLM embedding metric")
    args = parser.parse_args()

    from judge_service.metrics.overlap import CHEAP_METRICS, item_statistics, normalize_references, summarize

    rows = [r for r in json.loads(DATA.read_text())
            if isinstance(r["response1"], str) and isinstance(r["response2"], str) and r["response1"].strip() and r["response2"].strip()]
    rows = list(islice(cycle(rows), args.items))
    predictions = [r["response1"] for r in rows]
    references = normalize_references([r["response2"] for r in rows], len(rows))
    words = sum(len(p.split()) for p in predictions) / len(predictions)
    print(f"{len(rows)} PandaLM response pairs, {words:.0f} words per prediction on average; "
          f"{args.n_resamples} bootstrap resamples; load average {os.getloadavg()[0]:.1f}")
    metrics = list(CHEAP_METRICS) + (["embedding"] if args.embedding else [])
    if args.embedding:
        from judge_service.metrics.embedding import load_encoder

        load_encoder()  # load time is not throughput
    item_statistics(["bleu"], predictions[:5], references[:5])  # warm-up imports

    print(f"{'metric':<14}{'score':>10}{'items/s':>10}{'items/s with CI':>17}{'95% CI':>22}")
    for metric in metrics:
        started = time.perf_counter()
        stats = item_statistics([metric], predictions, references)[0][0]
        score = stats.score()
        compute_s = time.perf_counter() - started
        summary = summarize(stats, n_resamples=args.n_resamples)
        total_s = time.perf_counter() - started
        print(f"{metric:<14}{score:>10.4g}{len(rows) / compute_s:>10.0f}{len(rows) / total_s:>17.0f}"
              f"{f'[{summary.ci_low:.4g}, {summary.ci_high:.4g}]':>22}")


if __name__ == "__main__":
    main()
