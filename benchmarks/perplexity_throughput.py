"""Perplexity throughput: the batched implementation against the one-text-at-a-time loop.

Text: MT-Bench questions and GPT-4 reference answers (../shared/data/mt_bench), repeated until
about --tokens tokens. Model: the embedded SmolLM2-135M (float32, CPU). Both methods score the
same texts with the same model; the script asserts that every text's perplexity agrees to 1e-4
(relative) and prints scored tokens/s and the peak resident memory of each phase.

    .venv/bin/python benchmarks/perplexity_throughput.py [--tokens 50000] [--batch-size 8]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
DATA = ROOT.parent / "shared" / "data" / "mt_bench"


def mt_bench_texts() -> list[str]:
    texts = []
    for line in (DATA / "question.jsonl").read_text().splitlines():
        texts.extend(json.loads(line)["turns"])
    for line in (DATA / "reference_answer_gpt-4.jsonl").read_text().splitlines():
        texts.extend(json.loads(line)["choices"][0]["turns"])
    return [t for t in texts if t.strip()]


class PeakRss:
    """Peak resident memory (MiB) during a block: resets the kernel's high-water mark
    (/proc/self/clear_refs, Linux) and also samples VmRSS every 10 ms in case it cannot."""

    def __enter__(self) -> PeakRss:
        try:
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            pass
        self.peak_kb, self._stop = 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.peak_kb = max(self.peak_kb, _status_kb("VmRSS"))

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_kb = max(self.peak_kb, _status_kb("VmHWM"))

    @property
    def mib(self) -> float:
        return self.peak_kb / 1024


def _status_kb(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def loop_perplexities(loaded, texts: list[str]) -> list[float]:
    """The straightforward way: one text at a time, model(ids, labels=ids).loss."""
    import torch

    out = []
    with torch.inference_mode():
        for text in texts:
            ids = torch.tensor([loaded.tokenizer(text, add_special_tokens=False)["input_ids"]])
            out.append(math.exp(loaded.model(ids, labels=ids).loss.item()))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=50_000, help="approximate scored tokens per method")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=6, help="interleaved rounds of loop and batched scoring")
    parser.add_argument("--cache-dir", type=Path, default=None, help="GGUF conversion cache (default: the settings')")
    args = parser.parse_args()

    import torch

    from judge_service.localmodel import load_causal_lm
    from judge_service.metrics.perplexity import build_result, perplexity
    from judge_service.settings import Settings

    loaded = load_causal_lm(None, args.cache_dir or Settings().resolved_model_cache())
    base = mt_bench_texts()
    lengths = [len(ids) - 1 for ids in loaded.tokenizer(base, add_special_tokens=False)["input_ids"]]
    repeats = max(1, math.ceil(args.tokens / sum(lengths)))
    texts = base * repeats
    print(f"{len(texts)} texts ({len(base)} MT-Bench questions and reference answers × {repeats}), "
          f"{sum(lengths) * repeats} scored tokens, longest {max(lengths) + 1} tokens; torch threads {torch.get_num_threads()}; load average {os.getloadavg()[0]:.1f}")

    loop_perplexities(loaded, base[:4])  # warm-up: first-call allocations and kernels
    perplexity(loaded, base[:4], batch_size=args.batch_size)
    # Interleaved rounds, alternating which method goes first, so that load from other processes
    # on a shared machine falls on both methods alike rather than on whichever ran second.
    expected: list[float] = []
    per_text = []
    seconds = {"loop": 0.0, "batched": 0.0}
    peak_mib = {"loop": 0.0, "batched": 0.0}
    for r in range(args.rounds):
        chunk = texts[r::args.rounds]
        order = ("loop", "batched") if r % 2 == 0 else ("batched", "loop")
        for method in order:
            with PeakRss() as mem:
                started = time.perf_counter()
                if method == "loop":
                    expected.extend(loop_perplexities(loaded, chunk))
                else:
                    per_text.extend(perplexity(loaded, chunk, batch_size=args.batch_size).texts)
                seconds[method] += time.perf_counter() - started
            peak_mib[method] = max(peak_mib[method], mem.mib)
    result = build_result(loaded.name, [t for r in range(args.rounds) for t in texts[r::args.rounds]],
                          [t.nll_sum for t in per_text], [t.token_count for t in per_text], max_length=None, stride=None)
    loop_s, batch_s = seconds["loop"], seconds["batched"]

    worst = max(abs(t.perplexity - e) / e for t, e in zip(result.texts, expected))
    assert worst < 1e-4, f"batched and loop perplexities differ by {worst:.2e} (relative)"
    tokens = result.total_tokens
    print(f"{'method':<28}{'seconds':>9}{'tokens/s':>11}{'peak RSS MiB':>14}")
    print(f"{'loop (one text at a time)':<28}{loop_s:>9.1f}{tokens / loop_s:>11.0f}{peak_mib['loop']:>14.0f}")
    print(f"{'batched (batch ' + str(args.batch_size) + ')':<28}{batch_s:>9.1f}{tokens / batch_s:>11.0f}{peak_mib['batched']:>14.0f}")
    print(f"speed-up {loop_s / batch_s:.2f}×; largest per-text relative difference {worst:.1e}; "
          f"corpus perplexity {result.corpus_perplexity:.4f}")


if __name__ == "__main__":
    main()
