"""Time a paired benchmark comparison at realistic sizes (HellaSwag: 10042 docs; MMLU: 57 subtasks,
14042 docs) and print the figures. Run: PYTHONPATH=. python benchmarks/bench_benchmark_comparison.py"""

from __future__ import annotations

import time
import tracemalloc

import numpy as np

from judge_service.benchmarks.paired import mcnemar_exact, paired_bootstrap, stratified_bootstrap


def main() -> None:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 2, 10042).astype(float)
    tuned = np.where(rng.uniform(size=10042) < 0.1, 1 - base, base)
    for name, run in (("McNemar exact, 10042 docs", lambda: mcnemar_exact(base, tuned)),
                      ("paired bootstrap, 10042 docs x 2000", lambda: paired_bootstrap(base, tuned, seed="b")),
                      ("stratified bootstrap, 57 subtasks / 14042 docs x 2000",
                       lambda: stratified_bootstrap([(base[:246], tuned[:246])] * 57, [246] * 57, seed="s"))):
        tracemalloc.start()
        t0 = time.perf_counter()
        run()
        elapsed = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"{name}: {elapsed:.3f} s, peak {peak / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
