"""kill -9 in the middle of a run, restart on the same data dir: the run finishes as if nothing happened.

The service is a real subprocess; its judges are the fake OpenAI-compatible server (in this
process, so its call log is at hand) with a fixed latency, so the run takes a few seconds and
the kill lands mid-run. Afterwards: every item has exactly one verdict row; the verdicts equal
those of an uninterrupted run on a second data dir; and no call the service had finished with
was made again: only calls in flight at the kill may repeat, at most the judges' concurrency.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import httpx
import pytest
import yaml

from judge_service.testing.fake_server import FakeJudgeServer

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServiceProcess:  # also used by test_concurrency.py
    """``python -m uvicorn judge_service.app:create_app --factory`` with settings from ``JUDGE_*`` env vars."""

    def __init__(self, data_dir: Path, config: Path, *, workers: int = 1, env: dict[str, str] | None = None,
                 log_path: Path | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path or data_dir.parent / f"service-{self.port}.log"
        self._log = open(self.log_path, "ab")
        full_env = os.environ | {"JUDGE_DATA_DIR": str(data_dir), "JUDGE_CONFIG": str(config),
                                 "PYTHONPATH": str(REPO)} | (env or {})
        cmd = [sys.executable, "-m", "uvicorn", "judge_service.app:create_app", "--factory", "--host", "127.0.0.1",
               "--port", str(self.port), "--log-level", "warning", "--no-access-log", "--workers", str(workers)]
        self.proc = subprocess.Popen(cmd, env=full_env, stdout=self._log, stderr=subprocess.STDOUT, cwd=REPO)

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"service exited with {self.proc.returncode}: {self.log_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"service not ready after {timeout}s: {self.log_text()[-3000:]}")

    def log_text(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no flushing; what a power cut or OOM kill does."""
        self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()


N_ITEMS = 200  # the issue: a run of 200 items with 2 judges
CONCURRENCY = 4  # per judge; two judges
KILL_AFTER_DONE = 50


def judges_config(path, base_url: str):
    spec = {"provider": "openai_compatible", "base_url": base_url, "max_concurrency": CONCURRENCY, "timeout_s": 20,
            "max_attempts": 3, "options": {"retry_base_s": 0.05, "retry_cap_s": 0.2}}
    path.write_text(yaml.safe_dump({"judges": [spec | {"name": "fj1", "model": "fake-judge-1", "family": "f1"},
                                               spec | {"name": "fj2", "model": "fake-judge-2", "family": "f2"}],
                                    "default_panel": ["fj1", "fj2"]}))
    return path


def run_body() -> dict:
    items = []
    for i in range(N_ITEMS):
        base = "Base answer " + "x" * (i % 7)
        tuned = "Tuned answer " + "y" * (i % 5)  # sometimes longer, sometimes shorter, sometimes equal
        items.append({"id": f"q{i:03d}", "prompt": f"Question {i}?", "outputs": {"base": base, "tuned": tuned}})
    return {"rubric": "helpfulness", "judges": ["fj1", "fj2"], "mode": "pairwise", "baseline": "base",
            "candidate": "tuned", "items": items}


def wait_run(url: str, run_id: str, *, until_done: int | None = None, timeout: float = 90.0) -> dict:
    deadline = time.monotonic() + timeout
    status: dict = {}
    while time.monotonic() < deadline:
        status = httpx.get(f"{url}/v1/runs/{run_id}", timeout=10).json()
        if until_done is not None and status["progress"]["done"] >= until_done:
            return status
        if status["status"] in ("done", "failed"):
            return status
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} not finished in {timeout}s: {status}")


def without_cost(value):
    """Item results minus cost: a call replayed from the cache after the restart costs 0, by design."""
    if isinstance(value, dict):
        return {k: without_cost(v) for k, v in value.items() if k != "cost_usd"}
    if isinstance(value, list):
        return [without_cost(v) for v in value]
    return value


@pytest.fixture
def fake():
    with FakeJudgeServer("prefer_longer", latency_s=0.05) as server:
        yield server


def test_kill_9_mid_run_then_resume(tmp_path, fake):
    config = judges_config(tmp_path / "judges.yaml", fake.openai_base_url)
    data = tmp_path / "crashed"

    first = ServiceProcess(data, config, log_path=tmp_path / "first.log")
    try:
        first.wait_ready()
        r = httpx.post(f"{first.url}/v1/runs", json=run_body(), timeout=30)
        assert r.status_code == 202, r.text
        run_id = r.json()["id"]
        at_kill = wait_run(first.url, run_id, until_done=KILL_AFTER_DONE)
        first.kill()
        killed_at = time.monotonic()
    finally:
        first.stop()
    assert at_kill["status"] == "running" and KILL_AFTER_DONE <= at_kill["progress"]["done"] < N_ITEMS, at_kill

    second = ServiceProcess(data, config, log_path=tmp_path / "second.log")
    try:
        second.wait_ready()
        final = wait_run(second.url, run_id)
        resumed_items = httpx.get(f"{second.url}/v1/runs/{run_id}/items", timeout=30).json()
    finally:
        second.stop()
    assert final["status"] == "done" and final["progress"] == {"done": N_ITEMS, "failed": 0, "pending": 0, "total": N_ITEMS}
    crash_log = list(fake.log)

    # The same run, never interrupted, on a second data dir, against the same seeded fake judge.
    clean = ServiceProcess(tmp_path / "clean", config, log_path=tmp_path / "clean.log")
    try:
        clean.wait_ready()
        clean_id = httpx.post(f"{clean.url}/v1/runs", json=run_body(), timeout=30).json()["id"]
        assert wait_run(clean.url, clean_id)["status"] == "done"
        clean_items = httpx.get(f"{clean.url}/v1/runs/{clean_id}/items", timeout=30).json()
    finally:
        clean.stop()

    # Exactly one verdict row per item, none missing, none doubled.
    db = sqlite3.connect(data / "judge.db")
    rows = db.execute("SELECT item_id, status, result IS NOT NULL FROM run_items WHERE run_id = ?", (run_id,)).fetchall()
    assert len(rows) == N_ITEMS and len({r[0] for r in rows}) == N_ITEMS
    assert all(status == "done" and has_result for _, status, has_result in rows)

    # The verdicts are those of the uninterrupted run.
    assert [i["id"] for i in resumed_items] == [i["id"] for i in clean_items]
    assert [without_cost(i["result"]) for i in resumed_items] == [without_cost(i["result"]) for i in clean_items]
    winners = {i["result"]["pairwise"]["winner"] for i in clean_items}
    assert len(winners) >= 2  # the comparison is not vacuous

    # No completed call repeated: a body answered "ok" twice must have been in flight at the kill.
    ok_by_body: dict[str, list] = defaultdict(list)
    for rec in crash_log:
        if rec.outcome == "ok":
            ok_by_body[rec.body_sha256].append(rec)
    repeated = {b: recs for b, recs in ok_by_body.items() if len(recs) > 1}
    assert len(crash_log) >= 4 * N_ITEMS  # 2 judges x 2 orders per item
    assert all(len(recs) == 2 for recs in repeated.values())
    assert len(repeated) <= 2 * CONCURRENCY, f"{len(repeated)} calls repeated; at most {2 * CONCURRENCY} were in flight"
    for recs in repeated.values():
        first_try, second_try = sorted(recs, key=lambda r: r.started)
        assert first_try.started < killed_at < second_try.started
        # It was on the wire (or its reply not yet stored) at the kill, not long finished.
        assert first_try.finished > killed_at - 1.0, (first_try, killed_at)
    # The same from the database: a cache key paid for twice only for those in-flight calls.
    paid_twice = db.execute("SELECT COUNT(*) FROM (SELECT cache_key FROM judge_calls WHERE cached = 0 AND error IS NULL "
                            "GROUP BY cache_key HAVING COUNT(*) > 1)").fetchone()[0]
    assert paid_twice <= 2 * CONCURRENCY
    print(f"\nkill -9 after {at_kill['progress']['done']}/{N_ITEMS} items; calls repeated after restart: {len(repeated)} "
          f"(bound {2 * CONCURRENCY}); judge_calls rows paid twice: {paid_twice}; fake server calls: {len(crash_log)}")

    # The restarted service said what it did, as JSON log lines.
    lines = [json.loads(x) for x in (tmp_path / "second.log").read_text().splitlines() if x.startswith("{")]
    assert any(x["msg"] == f"resuming run {run_id}" and x["logger"] == "judge_service.runs" for x in lines)
