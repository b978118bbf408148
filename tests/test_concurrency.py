"""200 concurrent requests against a real uvicorn (two worker processes) on one SQLite file.

Two processes writing the same SQLite file is the hard case (WAL + busy_timeout must make
writers wait rather than fail). Every request must succeed or be refused politely (429/503);
none may be a 5xx otherwise; and every verdict acknowledged with a 200 must be in the database
with its judge calls, as must every item of the runs created in the same burst.
"""

from __future__ import annotations

import asyncio
import sqlite3
import statistics
import time
from collections import Counter

import httpx

from conftest import SCRIPTED_JUDGES, write_config
from test_crash_resume import ServiceProcess  # the real-subprocess helper lives there

N_REQUESTS = 200


def bodies() -> list[tuple[str, dict]]:
    out: list[tuple[str, dict]] = []
    for i in range(N_REQUESTS):
        if i % 50 == 7:  # a few runs in the same burst
            items = [{"id": f"r{i}-{k}", "prompt": f"Run {i} question {k}?",
                      "outputs": {"base": f"short {k}", "tuned": f"a longer answer {k} to run {i}"}} for k in range(10)]
            out.append(("/v1/runs", {"rubric": "helpfulness", "judges": ["longer"], "baseline": "base",
                                     "candidate": "tuned", "items": items}))
        elif i % 2:
            out.append(("/v1/comparisons", {"rubric": "helpfulness", "prompt": f"Question {i}?", "judges": ["longer", "first"],
                                            "response_a": f"Answer {i}.", "response_b": f"A longer answer number {i}."}))
        else:
            out.append(("/v1/judgments", {"rubric": "helpfulness", "prompt": f"Question {i}?",
                                          "judges": ["lengthy-scorer", "logprob-scorer"], "response": f"Answer number {i}."}))
    return out


async def burst(url: str, requests: list[tuple[str, dict]]) -> list[tuple[str, int, dict, float]]:
    limits = httpx.Limits(max_connections=N_REQUESTS, max_keepalive_connections=N_REQUESTS)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120.0) as client:
        async def one(path: str, body: dict) -> tuple[str, int, dict, float]:
            started = time.perf_counter()
            r = await client.post(path, json=body)
            return path, r.status_code, r.json(), time.perf_counter() - started

        return await asyncio.gather(*(one(p, b) for p, b in requests))


def test_concurrent_requests_on_sqlite_lose_nothing(tmp_path):
    config = write_config(tmp_path / "judges.yaml", SCRIPTED_JUDGES)
    data = tmp_path / "data"
    service = ServiceProcess(data, config, workers=2, env={"JUDGE_LOG_JSON": "false"})
    try:
        service.wait_ready()
        started = time.perf_counter()
        results = asyncio.run(burst(service.url, bodies()))
        wall = time.perf_counter() - started

        statuses = Counter(status for _, status, _, _ in results)
        assert set(statuses) <= {200, 202, 429, 503}, (statuses, [r for r in results if r[1] >= 500][:3])
        ok = [(path, body) for path, status, body, _ in results if status in (200, 202)]
        assert len(ok) >= N_REQUESTS * 0.9, statuses  # nothing here is rate limited: most must succeed

        run_ids = [body["id"] for path, body in ok if path == "/v1/runs"]
        deadline = time.monotonic() + 60
        while run_ids and time.monotonic() < deadline:
            if all(httpx.get(f"{service.url}/v1/runs/{r}").json()["status"] == "done" for r in run_ids):
                break
            time.sleep(0.2)
        latencies = sorted(s for _, _, _, s in results)
        print(f"\n{N_REQUESTS} concurrent requests, 2 workers: {dict(statuses)} in {wall:.2f}s; "
              f"p50 {statistics.median(latencies) * 1000:.0f} ms, p95 {latencies[int(0.95 * len(latencies))] * 1000:.0f} ms")
    finally:
        service.stop()
    assert "Traceback" not in service.log_text()

    db = sqlite3.connect(data / "judge.db")
    verdicts = {row[0]: row[1] for row in db.execute("SELECT id, kind FROM judgments")}
    acknowledged = {body["id"]: path for path, body in ok if path != "/v1/runs"}
    assert set(acknowledged) <= set(verdicts), "a verdict answered with 200 is missing from the database"
    calls = Counter(owner for (owner,) in db.execute("SELECT owner_id FROM judge_calls WHERE owner_kind != 'run_item'"))
    for id_, path in acknowledged.items():
        # judgments: 2 judges x 1 call; comparisons: 2 judges x 2 orders
        assert calls[id_] == (2 if path == "/v1/judgments" else 4), (id_, calls[id_])
    for run_id in run_ids:
        rows = db.execute("SELECT status, COUNT(*), COUNT(DISTINCT item_id) FROM run_items WHERE run_id = ? GROUP BY status",
                          (run_id,)).fetchall()
        assert rows == [("done", 10, 10)], (run_id, rows)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
