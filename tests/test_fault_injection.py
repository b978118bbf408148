"""A 300-item run while 30% of judge calls fail in mixed ways: it completes, explains every failure,
never repeats a call that succeeded, and counts exactly the cost of the calls that were answered.

Faults from the fake OpenAI-compatible server: 429 with Retry-After, 500, replies slower than the
client's timeout, dropped connections, truncated JSON bodies and verdict-less ("garbage") replies.
Latency is zero and backoff small (judge config), so the run takes seconds.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict

from sqlalchemy import text

from conftest import wait_done
from judge_service.testing.fake_server import Faults, FakeJudgeServer

N_ITEMS = 300
PRICE = {"input_per_mtok": 1.5, "output_per_mtok": 6.0}
KINDS = ("rate_limit", "server_error", "slow", "drop", "malformed", "garbage")
WEIGHTS = (2.0, 2.0, 1.0, 2.0, 2.0, 1.0)
RETRY_AFTER_S = 0.1


class MeteredFakeServer(FakeJudgeServer):
    """The fake server, also noting the usage of every reply it actually sent (what a provider bills)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.billed: list[dict] = []

    def _openai(self, body: dict) -> dict:
        payload = super()._openai(body)
        self.billed.append(payload["usage"])
        return payload

    def _openai_text(self, text_: str, refusal: bool) -> dict:
        payload = super()._openai_text(text_, refusal)
        self.billed.append(payload["usage"])
        return payload


def judges_config(base_url: str) -> dict:
    spec = {"provider": "openai_compatible", "base_url": base_url, "max_concurrency": 8, "timeout_s": 1.0,
            "max_attempts": 6, "max_retry_time_s": 20, "price": PRICE,
            "options": {"retry_base_s": 0.02, "retry_cap_s": 0.2}}
    return {"judges": [spec | {"name": "fj1", "model": "fake-judge-1", "family": "f1"},
                       spec | {"name": "fj2", "model": "fake-judge-2", "family": "f2"}],
            "default_panel": ["fj1", "fj2"]}


def run_body() -> dict:
    items = [{"id": f"q{i:03d}", "prompt": f"Question {i}?",
              "outputs": {"base": "Base " + "x" * (i % 6), "tuned": "Tuned " + "y" * (i % 4)}} for i in range(N_ITEMS)]
    return {"rubric": "helpfulness", "judges": ["fj1", "fj2"], "mode": "pairwise", "baseline": "base",
            "candidate": "tuned", "items": items}


def test_run_survives_thirty_percent_faults(make_client):
    faults = Faults(rate=0.3, kinds=KINDS, weights=WEIGHTS, retry_after_s=RETRY_AFTER_S, slow_s=1.5, seed=7)
    with MeteredFakeServer("prefer_longer", faults=faults) as fake:
        client = make_client(judges_config(fake.openai_base_url))
        started = time.monotonic()
        r = client.post("/v1/runs", json=run_body())
        assert r.status_code == 202, r.text
        status = wait_done(client, r.json()["id"], timeout=90)
        run_id = status["id"]
        elapsed = time.monotonic() - started
        items = client.get(f"/v1/runs/{run_id}/items").json()
        log = list(fake.log)
        billed = list(fake.billed)
        ctx = client.app.state.ctx
        limiter = {name: ctx.judges.get(name).provider.stats for name in ("fj1", "fj2")}
        metrics = client.get("/metrics").text

    assert status["status"] == "done" and status["progress"]["pending"] == 0 and len(items) == N_ITEMS

    # Every item judged, or the reason it is not, spelled out on the item, judge or order.
    judged = unexplained = 0
    for item in items:
        if item["status"] == "failed":
            assert item["error"], item
            continue
        pairwise = item["result"]["pairwise"]
        if pairwise["winner"] is not None:
            judged += 1
        for judge in pairwise["judges"]:
            for order in judge["orders"]:
                if not order["winners"] and not order["error"]:
                    unexplained += 1
            if judge["winner"] is None and not judge["error"] and not any(o["error"] for o in judge["orders"]):
                unexplained += 1
    assert unexplained == 0
    assert judged >= N_ITEMS * 0.95

    # The faults really happened, in every kind.
    outcomes = Counter(rec.outcome for rec in log)
    assert set(KINDS) <= set(outcomes), outcomes
    fault_share = 1 - outcomes["ok"] / len(log)
    assert 0.2 < fault_share < 0.4, outcomes

    # No call that succeeded was made again (a 200 with a usable body is billed, so it must be final).
    answered: dict[str, int] = Counter(rec.body_sha256 for rec in log if rec.outcome in ("ok", "garbage"))
    repeated = [[(r.outcome, round(r.started, 3), round(r.finished, 3)) for r in log if r.body_sha256 == b]
                for b, n in answered.items() if n > 1]
    assert not repeated, repeated[:3]  # each: that body's calls, in order, as the server saw them

    # Retry-After was honoured: the same request is not sent again before the wait is over.
    by_body: dict[str, list] = defaultdict(list)
    for rec in log:
        by_body[rec.body_sha256].append(rec)
    gaps = []
    for recs in by_body.values():
        recs.sort(key=lambda r: r.started)
        gaps += [b.started - a.finished for a, b in zip(recs, recs[1:]) if a.outcome == "rate_limit"]
    assert gaps and min(gaps) >= RETRY_AFTER_S * 0.95, min(gaps)

    # Cost: what we stored is exactly what the provider billed, tokens x price, for answered calls only.
    with ctx.db.engine.connect() as conn:
        stored_cost, priced_rows = conn.execute(text(
            "SELECT SUM(cost_usd), COUNT(*) FROM judge_calls WHERE cached = 0 AND raw_text IS NOT NULL")).one()
        # A call that failed after all retries has no reply and no cost (NULL, not 0): only answered calls are priced.
        null_costs = conn.execute(text("SELECT COUNT(*) FROM judge_calls WHERE cost_usd IS NULL AND raw_text IS NOT NULL")).scalar()
    expected = sum(u["prompt_tokens"] * PRICE["input_per_mtok"] + u["completion_tokens"] * PRICE["output_per_mtok"]
                   for u in billed) / 1e6
    assert priced_rows == len(billed) == sum(answered.values())
    assert abs(stored_cost - expected) < 1e-9 and null_costs == 0
    assert f'judge_call_cost_usd_total{{judge="fj1"}}' in metrics

    retries = sum(s.retries for s in limiter.values())
    assert retries > 0 and sum(s.failures for s in limiter.values()) <= N_ITEMS * 0.05
    print(f"\n{N_ITEMS} items x 2 judges x 2 orders under 30% faults: {elapsed:.1f}s, {len(log)} HTTP attempts "
          f"{dict(outcomes)}, {retries} retries, {judged}/{N_ITEMS} items with a winner, cost ${stored_cost:.6f} "
          f"= billed ${expected:.6f}")


def test_two_hundred_comparisons_with_thirty_percent_retryable_faults_all_get_a_verdict(make_client):
    # The acceptance check as stated: only retryable faults, so nothing may be left unjudged,
    # and the server sees at most max_attempts calls per judge call.
    retryable = ("rate_limit", "server_error", "unavailable", "drop", "malformed")
    faults = Faults(rate=0.3, kinds=retryable, retry_after_s=0.02, seed=11, deterministic=True)
    with FakeJudgeServer("prefer_longer", faults=faults) as fake:
        config = judges_config(fake.openai_base_url)
        config["judges"] = config["judges"][:1]
        config["default_panel"] = ["fj1"]
        client = make_client(config)
        body = run_body() | {"judges": ["fj1"], "items": run_body()["items"][:200]}
        run_id = client.post("/v1/runs", json=body).json()["id"]
        status = wait_done(client, run_id, timeout=90)
        items = client.get(f"/v1/runs/{run_id}/items").json()
        outcomes = Counter(rec.outcome for rec in fake.log)
        calls = fake.calls

    assert status["status"] == "done" and len(items) == 200
    assert all(item["result"]["pairwise"]["winner"] in ("candidate", "baseline", "tie") for item in items)
    assert all(o["error"] is None for item in items for j in item["result"]["pairwise"]["judges"] for o in j["orders"])
    judge_calls = 200 * 2  # both orders
    assert outcomes["ok"] == judge_calls  # every judge call ended answered, exactly once
    assert 0.2 < 1 - outcomes["ok"] / calls < 0.4, outcomes
    assert judge_calls < calls <= judge_calls * config["judges"][0]["max_attempts"]
    assert status["cost"]["calls"] == judge_calls and status["cost"]["failed_calls"] == 0
