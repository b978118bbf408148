"""Several service processes on one database, as a deployment runs them: N replicas, and ``uvicorn --workers 4``.

Real subprocesses against the fake judge server on loopback, on a SQLite file and on PostgreSQL
(``db_url``). What must hold:

- a 300-item run, shared by the processes through the run leases: every item has exactly one
  verdict and the fake server saw no successful call twice;
- the same new comparison sent 50 times at once, spread over the processes: no errors, every
  answer the same verdict; within one process identical concurrent calls share one provider call
  (one paid call per order), so across N processes at most N per order.

The kill -9 case is ``test_run_leases.py``'s.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
import yaml

from judge_service.store.db import Database
from judge_service.store.models import RunItemRow
from judge_service.testing.fake_server import FakeJudgeServer
from test_crash_resume import ServiceProcess, judges_config, wait_run

N_ITEMS = 300
N_SAME = 50


def run_of(n: int) -> dict:
    items = [{"id": f"q{i:03d}", "prompt": f"Scale-out question {i}?",
              "outputs": {"base": "Base answer " + "x" * (i % 7), "tuned": "Tuned answer " + "y" * (i % 5)}}
             for i in range(n)]
    return {"rubric": "helpfulness", "judges": ["fj1", "fj2"], "mode": "pairwise", "baseline": "base",
            "candidate": "tuned", "items": items}


SAME = {"rubric": "helpfulness", "prompt": "The one question everybody asks?", "response_a": "Short.",
        "response_b": "A longer answer to the one question.", "judges": ["fj1"]}


async def same_comparison(urls: list[str]) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=60) as client:
        return await asyncio.gather(*(client.post(f"{urls[i % len(urls)]}/v1/comparisons", json=SAME)
                                      for i in range(N_SAME)))


def check_same_comparison(fake: FakeJudgeServer, urls: list[str], processes: int) -> None:
    fake.reset()
    responses = asyncio.run(same_comparison(urls))
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {200: N_SAME}, (statuses, [r.text for r in responses if r.status_code != 200][:3])
    verdicts = {(r.json()["winner"], r.json()["prob_a"]) for r in responses}
    assert len(verdicts) == 1, verdicts
    calls = len([rec for rec in fake.log if rec.outcome == "ok"])
    assert 2 <= calls <= 2 * processes, calls  # orders AB and BA, at most once per process each


def check_run(fake: FakeJudgeServer, url: str, db_url: str) -> None:
    fake.reset()
    r = httpx.post(f"{url}/v1/runs", json=run_of(N_ITEMS), timeout=60)
    assert r.status_code == 202, r.text
    final = wait_run(url, r.json()["id"], timeout=120)
    assert final["status"] == "done" and final["progress"]["done"] == N_ITEMS, final
    db = Database(db_url)
    with db.session() as s:
        rows = s.query(RunItemRow.item_id, RunItemRow.status, RunItemRow.error).filter_by(run_id=r.json()["id"]).all()
    db.close()
    assert len(rows) == N_ITEMS == len({item for item, _, _ in rows})
    assert all(status == "done" and error is None for _, status, error in rows)
    ok = Counter(rec.body_sha256 for rec in fake.log if rec.outcome == "ok")
    assert len(ok) == N_ITEMS * 2 * 2  # items x judges x orders
    assert max(ok.values()) == 1, [b for b, n in ok.items() if n > 1][:3]  # no successful call made twice


@pytest.fixture
def fake():
    with FakeJudgeServer("prefer_longer", latency_s=0.03) as server:
        yield server


RPM = 1200  # the rate-limited judge's requests_per_minute, for all replicas together (20/s)
N_RATED = 60  # comparisons through it: 120 calls


def with_rate_limited_judge(config: Path) -> Path:
    cfg = yaml.safe_load(config.read_text())
    cfg["judges"].append(cfg["judges"][0] | {"name": "fjr", "model": "fake-judge-r", "requests_per_minute": RPM})
    config.write_text(yaml.safe_dump(cfg))
    return config


async def rated_comparisons(urls: list[str]) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=120) as client:
        return await asyncio.gather(*(client.post(f"{urls[i % len(urls)]}/v1/comparisons", json=SAME | {
            "judges": ["fjr"], "prompt": f"Rate-limited question {i}?"}) for i in range(N_RATED)))


def check_shared_rate_limit(fake: FakeJudgeServer, urls: list[str]) -> None:
    """The judge's requests_per_minute holds for the replicas together, as the provider sees it."""
    for url in urls:
        fjr = next(j for j in httpx.get(f"{url}/v1/judges", timeout=30).json() if j["name"] == "fjr")
        assert fjr["limits"]["replicas"] == len(urls) and fjr["limits"]["requests_per_minute"] == RPM / len(urls), fjr
    fake.reset()
    responses = asyncio.run(rated_comparisons(urls))
    assert Counter(r.status_code for r in responses) == {200: N_RATED}
    times = sorted(rec.started for rec in fake.log if rec.outcome == "ok")
    assert len(times) == 2 * N_RATED
    burst = RPM / 60  # each replica banks one second of its share: one second of the whole limit in all
    rate = (len(times) - burst) / (times[-1] - times[0])
    print(f"\n{len(urls)} replicas, requests_per_minute {RPM}: the fake server saw {rate * 60:.0f}/min after the burst")
    # Alone, each replica would allow the whole limit: three times the rate.
    assert 0.5 * RPM / 60 <= rate <= 1.15 * RPM / 60, rate * 60


def test_three_replicas_one_database(tmp_path, db_url, fake):
    config = with_rate_limited_judge(judges_config(tmp_path / "judges.yaml", fake.openai_base_url))
    env = {"JUDGE_DATABASE_URL": db_url, "JUDGE_LOG_JSON": "false"}
    procs = [ServiceProcess(tmp_path / "data", config, env=env, log_path=tmp_path / f"p{i}.log") for i in range(3)]
    try:
        for p in procs:
            p.wait_ready()
        check_same_comparison(fake, [p.url for p in procs], processes=3)
        started = time.monotonic()
        check_run(fake, procs[1].url, db_url)
        print(f"\n3 replicas, {N_ITEMS} items: {time.monotonic() - started:.1f}s")
        check_shared_rate_limit(fake, [p.url for p in procs])
    finally:
        for p in procs:
            p.stop()
    for p in procs:
        assert "Traceback" not in p.log_text(), p.log_text()[-2000:]


def test_uvicorn_workers_4_one_database(tmp_path, db_url, fake):
    config = judges_config(tmp_path / "judges.yaml", fake.openai_base_url)
    env = {"JUDGE_DATABASE_URL": db_url, "JUDGE_LOG_JSON": "false"}
    proc = ServiceProcess(tmp_path / "data", config, workers=4, env=env, log_path=tmp_path / "workers.log")
    try:
        proc.wait_ready()
        check_same_comparison(fake, [proc.url], processes=4)
        check_run(fake, proc.url, db_url)
    finally:
        proc.stop()
    assert "Traceback" not in proc.log_text(), proc.log_text()[-2000:]
