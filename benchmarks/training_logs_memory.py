"""Memory and time of a training-log analysis, and the refusal of a 200 MB log.

    PYTHONPATH=.:clients/python python benchmarks/training_logs_memory.py

Prints: the size, parse+analyse seconds and peak traced memory (tracemalloc) of an HF
trainer_state.json with N eval/train entries under the body limit, and the status a 200 MB upload
gets from the service (413 before anything is parsed: the route never holds it).
"""

from __future__ import annotations

import json
import math
import tempfile
import time
import tracemalloc
from pathlib import Path

from fastapi.testclient import TestClient

from judge_service.app import create_app
from judge_service.settings import Settings
from judge_service.training.bundle import read_bundle
from judge_service.training.report import analyse


def state(entries: int) -> bytes:
    history = []
    for i in range(1, entries + 1):
        history.append({"loss": 2 + math.exp(-i / 5000), "learning_rate": 1e-4, "grad_norm": 1.0, "epoch": i / 1000, "step": i})
        if i % 50 == 0:
            history.append({"eval_loss": 2.2 + (i / entries - 0.6) ** 2, "eval_runtime": 2.0, "eval_samples_per_second": 50.0,
                            "epoch": i / 1000, "step": i})
    return json.dumps({"log_history": history, "global_step": entries}).encode()


def main() -> None:
    data = state(100_000)
    tracemalloc.start()
    started = time.perf_counter()
    result = analyse(read_bundle([("trainer_state.json", data)]))
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"trainer_state.json {len(data) / 1e6:.1f} MB, 100000 train + 2000 eval entries: verdict {result['verdict']}, "
          f"{seconds:.2f} s, peak traced memory {peak / 1e6:.0f} MB")
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Settings(data_dir=Path(tmp), warm_judges=False))
        with TestClient(app) as client:
            big = b"{" + b" " * (200 * 1024 * 1024) + b"}"
            r = client.post("/v1/training-logs/analyses", files={"files": ("trainer_state.json", big)})
            print(f"200 MB upload: HTTP {r.status_code} {r.json()['error']['code']}")


if __name__ == "__main__":
    main()
