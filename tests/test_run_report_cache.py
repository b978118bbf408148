"""A finished run's report is computed once per process (its rows no longer change); an unfinished
run's report is made afresh on every read."""

from __future__ import annotations

from conftest import wait_done
from judge_service.runs import report_cache
from test_runs_api import make_items, run_body


def test_a_finished_runs_report_is_made_once_and_served_again(client, monkeypatch):
    import judge_service.api.runs as runs_api

    made = []
    real = runs_api._report
    monkeypatch.setattr(runs_api, "_report", lambda *a: made.append(a[0].id) or real(*a))
    run_id = client.post("/v1/runs", json=run_body(make_items(6))).json()["id"]
    wait_done(client, run_id)
    first = client.get(f"/v1/runs/{run_id}/report")
    second = client.get(f"/v1/runs/{run_id}/report")
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json() and made == [run_id]


def test_the_cache_keeps_the_newest_reports_only():
    cache = report_cache.ReportCache(size=2)
    for i in range(3):
        cache.put(cache.key(f"run{i}", "t"), {"i": i})
    assert cache.get(cache.key("run0", "t")) is None
    assert cache.get(cache.key("run2", "t")) == {"i": 2}
    assert cache.get(cache.key("run1", "t", {"mapping": 1})) is None  # other inputs, other report
