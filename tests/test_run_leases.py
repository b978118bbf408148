"""Several service processes on one database (SQLite file, PostgreSQL) share a run through leases; kill -9 of one loses nothing.

Real ``uvicorn`` subprocesses against the fake judge server on loopback. Every item gets exactly one
verdict, and a successful call is made twice only if the killed process had it in flight.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone

import httpx
from sqlalchemy import select, text

from judge_service.store import leases
from judge_service.store.db import Database
from judge_service.store.models import RunItemRow, RunRow
from test_crash_resume import CONCURRENCY, ServiceProcess, judges_config, run_body, wait_run
from judge_service.testing.fake_server import FakeJudgeServer

N_ITEMS = 200  # run_body's size


def _one_running_run(db_url: str, n_items: int) -> Database:
    db = Database(db_url)
    with db.session() as s:
        s.add(RunRow(id="r1", status="running", spec={}, total=n_items))
        s.flush()
        for i in range(n_items):
            s.add(RunItemRow(run_id="r1", item_id=f"i{i}", position=i, item={}))
    return db


def test_claims_are_exclusive_and_expired_leases_pass_on(db_url):
    db = _one_running_run(db_url, 10)
    now = datetime.now(timezone.utc)
    with db.session() as s:
        a = leases.claim(s, "host:1:a", now, now + timedelta(seconds=30), 6)
    with db.session() as s:
        b = leases.claim(s, "host:2:b", now, now + timedelta(seconds=30), 6)
    assert len(a) == 6 and len(b) == 4 and not set(a) & set(b)
    with db.session() as s:  # nothing left until a lease expires
        assert leases.claim(s, "host:3:c", now, now + timedelta(seconds=30), 6) == []
    later = now + timedelta(seconds=31)
    with db.session() as s:
        c = leases.claim(s, "host:3:c", later, later + timedelta(seconds=30), 20)
    assert sorted(c) == sorted(a + b)
    with db.session() as s:
        leases.release(s, "host:3:c")
        assert leases.owners(s) == set()
    db.close()


def test_three_processes_one_database_kill_one(tmp_path, db_url):
    with FakeJudgeServer("prefer_longer", latency_s=0.05) as fake:
        config = judges_config(tmp_path / "judges.yaml", fake.openai_base_url)
        data = tmp_path / "shared"
        env = {"JUDGE_RUN_LEASE_SECONDS": "3", "JUDGE_DATABASE_URL": db_url}
        procs = [ServiceProcess(data, config, env=env, log_path=tmp_path / f"p{i}.log") for i in range(3)]
        try:
            for p in procs:
                p.wait_ready()
            r = httpx.post(f"{procs[0].url}/v1/runs", json=run_body(), timeout=30)
            assert r.status_code == 202, r.text
            run_id = r.json()["id"]
            wait_run(procs[0].url, run_id, until_done=40)
            procs[1].kill()
            killed_at = time.monotonic()
            final = wait_run(procs[0].url, run_id, timeout=60)
        finally:
            for p in procs:
                p.stop()
        log = list(fake.log)
    assert final["status"] == "done" and final["progress"]["done"] == N_ITEMS, final
    db = Database(db_url)
    with db.session() as s:
        rows = s.query(RunItemRow.item_id, RunItemRow.status, RunItemRow.error).filter_by(run_id=run_id).all()
        assert s.query(leases.RunItemLeaseRow).count() == 0  # graceful stops handed back
    db.close()
    assert len(rows) == N_ITEMS and all(st == "done" and err is None for _, st, err in rows)
    ok: dict[str, list] = defaultdict(list)
    for rec in log:
        if rec.outcome == "ok":
            ok[rec.body_sha256].append(rec)
    repeated = {b: recs for b, recs in ok.items() if len(recs) > 1}
    # Only the killed process's in-flight calls (2 judges x CONCURRENCY) may be made again.
    assert len(repeated) <= 2 * CONCURRENCY, len(repeated)
    for recs in repeated.values():
        assert len(recs) == 2 and min(r.started for r in recs) < killed_at


def test_item_error_never_carries_raw_sql():
    from sqlalchemy.exc import IntegrityError

    from judge_service.errors import InvalidInput
    from judge_service.runs.manager import item_error

    raw = IntegrityError("INSERT INTO call_cache (cache_key) VALUES (?)", {}, Exception("UNIQUE constraint failed"))
    assert "INSERT" not in item_error(raw) and "UNIQUE" not in item_error(raw)
    assert item_error(InvalidInput("rubric x is gone", field="rubric")) == "rubric x is gone"


def test_judges_are_built_off_the_event_loop_and_once(monkeypatch):
    """Building a judge (an SDK import, a model load) must not stall the loop: a stalled loop misses
    its lease heartbeats and another replica pays for this process's items again."""
    import asyncio

    from judge_service.judges import registry
    from judge_service.judges.config import JudgesConfig
    from judge_service.settings import Settings

    real_build, builds = registry.build_judge, []

    def slow_build(spec, settings):
        builds.append(spec.name)
        time.sleep(0.6)  # what importing an SDK costs on a busy host
        return real_build(spec, settings)

    monkeypatch.setattr(registry, "build_judge", slow_build)
    config = JudgesConfig(judges=[{"name": "j1", "provider": "openai_compatible", "model": "m",
                                   "base_url": "http://127.0.0.1:9/v1"}])
    pool = registry.JudgePool(config, Settings())

    async def main():
        gaps, last = [], asyncio.get_running_loop().time()

        async def ticker():
            nonlocal last
            while True:
                await asyncio.sleep(0.02)
                now = asyncio.get_running_loop().time()
                gaps.append(now - last)
                last = now

        tick = asyncio.create_task(ticker())
        a, b = await asyncio.gather(pool.get_many(["j1"]), pool.get_many(["j1"]))
        tick.cancel()
        await pool.aclose()
        return a, b, max(gaps)

    a, b, worst_gap = asyncio.run(main())
    assert a[0] is b[0] and builds == ["j1"]  # two callers at once, one build
    assert worst_gap < 0.3, f"the event loop stalled {worst_gap:.2f}s while a judge was built"


def test_claims_skip_this_process_own_busy_items(db_url):
    db = _one_running_run(db_url, 4)
    now = datetime.now(timezone.utc)
    with db.session() as s:
        mine = leases.claim(s, "host:1:a", now, now + timedelta(seconds=1), 4)
    later = now + timedelta(seconds=2)  # every lease has run out, but the items are still being judged
    with db.session() as s:
        again = leases.claim(s, "host:1:a", later, later + timedelta(seconds=1), 4, busy=frozenset(mine[:3]))
    assert again == mine[3:]
    db.close()


def test_an_item_whose_lease_lapses_mid_call_is_not_judged_twice_by_its_own_process(make_client, monkeypatch):
    """A late heartbeat lets this process's own leases expire while their calls are in flight; the
    next claim must not hand the same items to a second task of the same process (each would pay)."""
    from conftest import wait_done

    def renew_without_extending(s, owner, expires_at):  # a heartbeat that came too late to help
        return set(s.scalars(select(leases.RunItemLeaseRow.item_pk).where(leases.RunItemLeaseRow.owner == owner)))

    monkeypatch.setattr(leases, "renew", renew_without_extending)
    with FakeJudgeServer("prefer_longer", latency_s=1.5) as fake:
        spec = {"provider": "openai_compatible", "base_url": fake.openai_base_url, "model": "fake-judge",
                "max_concurrency": 16, "timeout_s": 10}
        client = make_client({"judges": [spec | {"name": "fj"}], "default_panel": ["fj"]}, run_lease_seconds=0.5)
        items = [{"id": f"q{i}", "prompt": f"Question {i}?", "outputs": {"base": "Base", "tuned": "Tuned " + "y" * i}}
                 for i in range(6)]
        r = client.post("/v1/runs", json={"rubric": "helpfulness", "judges": ["fj"], "mode": "pairwise",
                                          "baseline": "base", "candidate": "tuned", "items": items})
        assert r.status_code == 202, r.text
        status = wait_done(client, r.json()["id"], timeout=60)
        log = list(fake.log)
        with client.app.state.ctx.db.engine.connect() as conn:  # every judge call this process made, cached or not
            recorded = conn.execute(text("SELECT COUNT(*) FROM judge_calls")).scalar_one()
    assert status["status"] == "done" and status["progress"]["done"] == 6, status
    calls = Counter(rec.body_sha256 for rec in log if rec.outcome == "ok")
    assert len(calls) == 12 and max(calls.values()) == 1, calls  # 6 items x 2 orders, each once
    assert recorded == 12, recorded  # a second task for an item would replay its calls from the cache
