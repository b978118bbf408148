"""The run simulation end to end: the service, the real OpenAI SDK, the fake judge server.

Same judge and target as tests/test_run_simulation.py (read its docstring for the derivation:
target = x/2 + (1 − x)·p, because verbosity vanishes at equal length), but every verdict goes
through POST /v1/runs → both orders rendered → HTTP to the fake server → parsed → stored → the
report endpoint. The truly better answer of an item carries a marker ("T") that only the
simulated judge reads.
"""

from __future__ import annotations

import math
import random
import time

import numpy as np
import pytest

from judge_service.testing.fake_server import FakeJudgeServer
from judge_service.testing.policies import JudgeView

N_ITEMS = 300
P_TRUE, X_POSITION, V_VERBOSITY, SCALE_CHARS = 0.6, 0.25, 0.6, 400.0
TARGET = X_POSITION / 2 + (1 - X_POSITION) * P_TRUE
SEEDS = (11, 12, 13, 14, 15)


def biased_judge(view: JudgeView, rng: random.Random) -> dict[str, dict[str, float]]:
    a, b = view.response_a or "", view.response_b or ""
    if rng.random() < X_POSITION:
        pick = "A"  # position bias: whatever is shown first
    elif rng.random() < V_VERBOSITY * abs(math.tanh((len(a) - len(b)) / SCALE_CHARS)):
        pick = "A" if len(a) > len(b) else "B"  # verbosity bias, growing with the gap
    else:
        pick = "A" if a.startswith("T") else "B"  # the truly better answer
    return {"winner": {lab: (1.0 if lab == pick else 0.0) for lab in ("A", "B", "tie")}}


def items_for(seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    base_len = rng.lognormal(np.log(800), 0.4, N_ITEMS).astype(int) + 1
    cand_len = (base_len * np.exp(rng.normal(0.5, 0.45, N_ITEMS))).astype(int) + 1
    items = []
    for k in range(N_ITEMS):
        cand_better = rng.random() < P_TRUE
        cand = ("T" if cand_better else "c") + "c" * int(cand_len[k] - 1)
        base = ("b" if cand_better else "T") + "b" * int(base_len[k] - 1)
        items.append({"id": f"s{seed}-{k}", "prompt": f"Question {k} of seed {seed}?", "outputs": {"base": base, "tuned": cand}})
    return items


@pytest.fixture
def service(make_client):
    with FakeJudgeServer(biased_judge) as fake:
        config = {"judges": [{"name": "sim", "provider": "openai_compatible", "model": "sim-judge", "family": "sim",
                              "base_url": fake.openai_base_url, "max_concurrency": 32, "logprobs": False}]}
        yield make_client(config, log_json=False, run_item_concurrency=32), fake


def covers(est: dict, value: float) -> bool:
    return est["ci_low"] <= value <= est["ci_high"]


def test_lc_win_rate_covers_the_target_through_the_service(service):
    client, fake = service
    rows = []
    for seed in SEEDS:
        body = {"rubric": "helpfulness", "judges": ["sim"], "baseline": "base", "candidate": "tuned",
                "items": items_for(seed), "options": {"n_resamples": 1000}}
        run_id = client.post("/v1/runs", json=body).json()["id"]
        deadline = time.monotonic() + 120
        while client.get(f"/v1/runs/{run_id}").json()["status"] != "done":
            assert time.monotonic() < deadline, "run did not finish"
            time.sleep(0.1)
        rep = client.get(f"/v1/runs/{run_id}/report").json()
        pw = rep["pairwise"]
        rows.append((seed, pw["win_rate_by_order"]["BA"], pw["win_rate"], pw["length_controlled_win_rate"]))
        assert pw["n_unscored_calls"] == 0 and rep["n_items"] == N_ITEMS
    assert fake.calls == 2 * N_ITEMS * len(SEEDS)  # both orders, every item, no call made twice
    for seed, single, raw, lc in rows:
        print(f"seed {seed}: single-order {single['estimate']:.3f} [{single['ci_low']:.3f}, {single['ci_high']:.3f}]  "
              f"raw {raw['estimate']:.3f} [{raw['ci_low']:.3f}, {raw['ci_high']:.3f}]  "
              f"LC {lc['estimate']:.3f} [{lc['ci_low']:.3f}, {lc['ci_high']:.3f}]  target {TARGET:.3f}")
        assert not covers(single, TARGET), "a single order should miss the target (position bias)"
        assert not covers(raw, TARGET), "the raw two-order win rate should miss the target (length effect)"
    covered = sum(covers(lc, TARGET) for *_, lc in rows)
    print(f"LC 95% CI covered the target in {covered}/{len(rows)} seeds")
    assert covered >= len(rows) - 1
