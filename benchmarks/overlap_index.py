"""Training-set overlap index at scale: build time, index size, screening rate, peak memory.

    PYTHONPATH=. python benchmarks/overlap_index.py [--docs 26000] [--words 210] [--outputs 5000]

Synthetic training set (random words from a 20k vocabulary); a quarter of the outputs carry a
copied training passage, so the verification path is exercised as well as the misses.
"""

from __future__ import annotations

import argparse
import random
import resource
import tempfile
import time
from pathlib import Path

from judge_service.memorization.corpus import Document
from judge_service.memorization.index import OverlapIndex, build_index
from judge_service.memorization.regurgitation import OutputToScreen, screen


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=26_000)
    parser.add_argument("--words", type=int, default=210)
    parser.add_argument("--outputs", type=int, default=5_000)
    parser.add_argument("--output-words", type=int, default=150)
    parser.add_argument("--no-minhash", action="store_true")
    args = parser.parse_args()
    rng = random.Random(0)
    vocab = [f"w{i}" for i in range(20_000)]
    docs = [Document(str(i), " ".join(rng.choices(vocab, k=args.words))) for i in range(args.docs)]
    from judge_service.memorization.index import IndexOptions

    t0 = time.perf_counter()
    index = build_index(docs, IndexOptions(minhash=not args.no_minhash))
    build_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        on_disk = index.save(Path(tmp) / "ix")
        loaded = OverlapIndex.load(Path(tmp) / "ix")
        outputs = []
        for i in range(args.outputs):
            words = rng.choices(vocab, k=args.output_words)
            if i % 4 == 0:
                src = docs[rng.randrange(len(docs))].text.split()
                words[20:80] = src[50:110]
            outputs.append(OutputToScreen(str(i), " ".join(words), prompt="Tell me something about " + words[0]))
        t1 = time.perf_counter()
        result = screen(loaded, outputs)
        screen_s = time.perf_counter() - t1
    flagged = sum(r.flag == "regurgitation" for r in result)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"training: {args.docs} docs, {index.n_tokens:,} tokens, {len(index.hashes):,} indexed 13-grams "
          f"(minhash={'off' if args.no_minhash else 'on'})")
    print(f"build: {build_s:.2f} s ({index.n_tokens / build_s / 1e6:.2f} M tokens/s)")
    print(f"index: {index.nbytes() / 1e6:.1f} MB in memory, {on_disk / 1e6:.1f} MB on disk "
          f"({index.nbytes() / max(index.n_tokens, 1):.1f} bytes/token)")
    print(f"screening: {args.outputs} outputs in {screen_s:.2f} s ({args.outputs / screen_s:,.0f} outputs/s); "
          f"flagged {flagged} (planted {(args.outputs + 3) // 4})")
    print(f"peak RSS: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
