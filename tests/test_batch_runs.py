"""Runs whose judges send their calls through the providers' batch APIs (engine/batch.py).

Everything is real between the HTTP API and the socket: the app, the run manager, the engine,
the cache, the official ``openai`` / ``anthropic`` SDKs, and the fake judge server's OpenAI
Batch and Anthropic Message Batches endpoints (testing/fake_batches.py).
"""

from __future__ import annotations

import json
import time

import httpx
import pytest
import yaml

from conftest import wait_done
from test_crash_resume import ServiceProcess, wait_run
from judge_service.testing.fake_faults import Faults
from judge_service.testing.fake_server import FakeJudgeServer

KEY = "sk-test-batch-0123456789abcdef"
ENV = "JUDGE_TEST_BATCH_KEY"
PRICE = {"input_per_mtok": 2.0, "output_per_mtok": 8.0}
FAST = {"batch_collect_seconds": 0.3, "batch_poll_seconds": 0.1}


@pytest.fixture
def server():
    with FakeJudgeServer("prefer_longer", api_key=KEY) as s:
        yield s


def judges_config(server: FakeJudgeServer, **extra) -> dict:
    common = {"api_key_env": ENV, "timeout_s": 10, "price": PRICE, "max_attempts": 3} | extra
    return {"judges": [
        {"name": "gpt", "provider": "openai", "model": "gpt-judge", "base_url": server.openai_base_url} | common,
        {"name": "claude", "provider": "anthropic", "model": "claude-judge", "base_url": server.anthropic_base_url} | common,
    ], "default_panel": ["gpt"]}


def run_body(judge: str, n: int, **extra) -> dict:
    # The longer answer wins (the fake judge's policy); which system's is longer varies by item.
    items = [{"id": f"q{i}", "prompt": f"Question {i}?",
              "outputs": {"base": f"Answer {i}." + (" With much more detail than the other." if i % 3 == 0 else ""),
                          "tuned": f"A fuller answer {i}, with detail." if i % 3 else f"Short {i}."}}
             for i in range(n)]
    return {"rubric": "helpfulness", "judges": [judge], "mode": "pairwise", "baseline": "base", "candidate": "tuned",
            "items": items} | extra


def start(client, body: dict) -> str:
    r = client.post("/v1/runs", json=body)
    assert r.status_code == 202, r.text
    return r.json()["id"]


def winners(client, run_id: str) -> dict[str, str]:
    items = client.get(f"/v1/runs/{run_id}/items").json()
    assert all(it["status"] == "done" for it in items), [it for it in items if it["status"] != "done"][:2]
    return {it["id"]: it["result"]["pairwise"]["winner"] for it in items}


# The 300 items through OpenAI; 100 through Anthropic keep the suite fast (same code path).
@pytest.mark.parametrize(("judge", "n"), [("gpt", 300), ("claude", 100)])
def test_a_batch_run_gives_the_direct_verdicts_at_the_batch_price(server, make_client, monkeypatch, tmp_path, judge, n):
    monkeypatch.setenv(ENV, KEY)
    direct = make_client(judges_config(server), data_dir=tmp_path / "direct", **FAST)
    direct_status = wait_done(direct, start(direct, run_body(judge, n)), timeout=120)
    direct_calls = server.calls
    assert direct_calls == 2 * n and server.batches.created == 0
    assert direct_status["execution"] == {judge: "direct"} and direct_status["batches"] == []

    batch = make_client(judges_config(server), data_dir=tmp_path / "batch", **FAST)
    run_id = start(batch, run_body(judge, n, execution="batch"))
    status = wait_done(batch, run_id, timeout=120)
    assert status["status"] == "done" and status["progress"]["done"] == n
    assert server.calls == direct_calls  # not one direct call: every call went in a batch
    assert server.batches.requests == 2 * n  # each call sent once
    assert status["execution"] == {judge: "batch"}
    batches = status["batches"]
    assert batches and {b["status"] for b in batches} == {"collected"}
    assert sum(b["submitted"] for b in batches) == 2 * n == sum(b["completed"] for b in batches)
    assert all(b["pending"] == 0 and b["failed"] == 0 and b["provider_batch_id"] for b in batches)

    assert winners(batch, run_id) == winners(direct, direct_status["id"])
    assert len(set(winners(batch, run_id).values())) == 2  # both systems win somewhere: the check can fail

    paid, plain = status["cost"], direct_status["cost"]
    assert (paid["calls"], paid["input_tokens"], paid["output_tokens"]) == (plain["calls"], plain["input_tokens"], plain["output_tokens"])
    assert paid["usd"] == pytest.approx(plain["usd"] / 2)  # both providers bill batches at half price
    assert paid["direct_usd"] == pytest.approx(plain["usd"]) == pytest.approx(plain["direct_usd"])
    assert paid["by_judge"][judge]["direct_usd"] == pytest.approx(plain["usd"])


def test_kill_9_while_batches_are_pending_resumes_polling_without_sending_anything_again(server, tmp_path):
    n = 40
    server.batches.delay_s = 4.0  # long enough for the kill and the restart to land while it is pending
    config = tmp_path / "judges.yaml"
    config.write_text(yaml.safe_dump(judges_config(server)))
    env = {ENV: KEY, "JUDGE_BATCH_COLLECT_SECONDS": "0.3", "JUDGE_BATCH_POLL_SECONDS": "0.2"}
    service = ServiceProcess(tmp_path / "data", config, env=env)
    try:
        service.wait_ready()
        r = httpx.post(f"{service.url}/v1/runs", json=run_body("gpt", n, execution="batch"), timeout=30)
        assert r.status_code == 202, r.text
        run_id = r.json()["id"]
        deadline = time.monotonic() + 30
        while True:  # every call sent, none answered
            status = httpx.get(f"{service.url}/v1/runs/{run_id}", timeout=10).json()
            batches = status["batches"]
            if sum(b["submitted"] for b in batches if b["provider_batch_id"]) == 2 * n:
                break
            assert time.monotonic() < deadline, status
            time.sleep(0.05)
        assert {b["status"] for b in batches} == {"pending"} and status["progress"]["done"] == 0
        assert {b["provider_status"] for b in batches} <= {None, "in_progress"}
        sent = (server.batches.created, server.batches.requests)
        service.kill()
    finally:
        service.stop()

    restarted = ServiceProcess(tmp_path / "data", config, env=env)
    try:
        restarted.wait_ready()
        status = wait_run(restarted.url, run_id, timeout=60)
        log = restarted.log_text()
    finally:
        restarted.stop()
    assert status["status"] == "done" and status["progress"]["done"] == n, (status, log[-2000:])
    assert (server.batches.created, server.batches.requests) == sent == (len(batches), 2 * n)  # nothing sent again
    assert server.calls == 0  # and nothing sent directly
    assert [b["id"] for b in status["batches"]] == [b["id"] for b in batches]
    assert {b["status"] for b in status["batches"]} == {"collected"}
    cost = status["cost"]
    assert (cost["calls"], cost["cached_calls"], cost["failed_calls"]) == (2 * n, 0, 0)  # each call paid once
    assert cost["usd"] == pytest.approx(cost["direct_usd"] / 2)


def test_failed_and_expired_requests_are_retried_and_the_run_completes(server, make_client, monkeypatch, tmp_path):
    monkeypatch.setenv(ENV, KEY)
    n = 30
    direct = make_client(judges_config(server), data_dir=tmp_path / "direct", **FAST)
    expected = winners(direct, wait_done(direct, start(direct, run_body("gpt", n)))["id"])
    direct_calls = server.calls

    # The first batch expires with half its requests unanswered; inside it two requests fail at the
    # provider (HTTP 500) and one reply has no verdict in it (a parse failure: the usual re-ask).
    server.batches.enqueue("expire")
    server.enqueue("server_error", "ok", "server_error", "garbage")
    client = make_client(judges_config(server), data_dir=tmp_path / "batch", batch_direct_below=0, **FAST)
    run_id = start(client, run_body("gpt", n, execution="batch"))
    status = wait_done(client, run_id, timeout=60)
    assert status["status"] == "done" and status["progress"] == {"done": n, "failed": 0, "pending": 0, "total": n}
    assert winners(client, run_id) == expected  # every item scored, as in the direct run
    assert server.calls == direct_calls  # the retries went as batches too (batch_direct_below=0)
    batches = status["batches"]
    assert "expired" in {b["provider_status"] for b in batches}
    first_try = sum(b["submitted"] for b in batches if b["provider_status"] == "expired")
    failed = sum(b["failed"] for b in batches)
    assert failed >= first_try // 2 + 2  # the expired half and the two errors
    # Every failed request was sent again, plus one re-ask for the unparseable reply; nothing else.
    assert server.batches.requests == 2 * n + failed + 1
    cost = status["cost"]
    assert cost["calls"] == 2 * n + 1 and cost["failed_calls"] == 0  # the re-ask is a paid call too


def test_a_few_failed_requests_are_retried_directly(server, make_client, monkeypatch, tmp_path):
    monkeypatch.setenv(ENV, KEY)
    server.enqueue("server_error", "ok", "unavailable")
    client = make_client(judges_config(server, options={"retry_base_s": 0.01}), **FAST)  # batch_direct_below: 20
    status = wait_done(client, start(client, run_body("claude", 10, execution="batch")), timeout=60)
    assert status["status"] == "done" and status["progress"]["done"] == 10
    assert server.batches.requests == 20 and server.calls == 2  # the two failures, sent as ordinary calls
    assert sum(b["failed"] for b in status["batches"]) == 2
    cost = status["cost"]
    # 18 calls at the batch price, 2 at the direct price.
    assert cost["calls"] == 20 and cost["direct_usd"] / 2 < cost["usd"] < cost["direct_usd"]


def test_a_request_that_keeps_failing_ends_as_the_judge_error_after_max_attempts(server, make_client, monkeypatch, tmp_path):
    monkeypatch.setenv(ENV, KEY)
    server.faults = Faults(rate=1.0, kinds=("server_error",))  # every request inside every batch fails
    client = make_client(judges_config(server), batch_direct_below=0, **FAST)  # max_attempts: 3
    status = wait_done(client, start(client, run_body("gpt", 1, execution="batch")), timeout=60)
    # Both orders' calls, three tries each, one batch per round.
    assert status["status"] == "done" and server.batches.created == 3 and server.batches.requests == 6
    item = client.get(f"/v1/runs/{status['id']}/items").json()[0]
    judge = item["result"]["pairwise"]["judges"][0]
    assert judge["winner"] is None and "HTTP 500" in judge["error"]
    assert status["cost"]["failed_calls"] == 2 and status["cost"]["calls"] == 0


def test_cancelling_a_run_cancels_its_pending_batches(server, make_client, monkeypatch):
    monkeypatch.setenv(ENV, KEY)
    server.batches.delay_s = 600.0
    client = make_client(judges_config(server), **FAST)
    run_id = start(client, run_body("claude", 5, execution="batch"))
    deadline = time.monotonic() + 30
    while not [b for b in client.get(f"/v1/runs/{run_id}").json()["batches"] if b["status"] == "pending"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    r = client.post(f"/v1/runs/{run_id}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert server.batches.cancelled == 1
    deadline = time.monotonic() + 10
    while True:
        status = client.get(f"/v1/runs/{run_id}").json()
        if {b["status"] for b in status["batches"]} == {"cancelled"}:
            break
        assert time.monotonic() < deadline, status
        time.sleep(0.05)
    assert status["status"] == "cancelled" and status["batches"][0]["provider_status"] == "ended"
    again = client.post(f"/v1/runs/{run_id}/cancel")
    assert again.status_code == 409 and again.json()["error"]["field"] == "id"


def test_auto_batches_only_large_runs_and_batch_needs_a_batch_api(server, make_client, monkeypatch):
    monkeypatch.setenv(ENV, KEY)
    config = judges_config(server)
    config["judges"].append({"name": "local-ish", "provider": "scripted", "model": "scripted", "options": {}})
    client = make_client(config, batch_auto_min_calls=10, **FAST)
    small = client.post("/v1/runs", json=run_body("gpt", 5, execution="auto")).json()["id"]  # 10 calls: not more than 10
    large = client.post("/v1/runs", json=run_body("gpt", 6, execution="auto")).json()["id"]  # 12 calls
    per_run = client.post("/v1/runs", json=run_body("gpt", 2, execution="auto", batch_min_calls=1)).json()["id"]
    assert client.get(f"/v1/runs/{small}").json()["execution"] == {"gpt": "direct"}
    assert client.get(f"/v1/runs/{large}").json()["execution"] == {"gpt": "batch"}
    assert client.get(f"/v1/runs/{per_run}").json()["execution"] == {"gpt": "batch"}
    r = client.post("/v1/runs", json=run_body("local-ish", 2, execution="batch"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "execution" and "no batch API" in r.json()["error"]["message"]
    r = client.post("/v1/runs", json=run_body("gpt", 2, execution={"nobody": "batch"}))
    assert r.status_code == 422 and r.json()["error"]["field"] == "execution"
    r = client.post("/v1/runs", json=run_body("gpt", 2, execution="sometimes"))
    assert r.status_code == 422 and "execution" in r.text
    for run_id in (small, large, per_run):
        assert wait_done(client, run_id)["status"] == "done"


def test_python_client_and_cli_run_in_batch_mode(server, make_settings, monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from judge_client import JudgeClient
    from judge_service.app import create_app
    from judge_service.cli import app as cli
    from test_client import serve

    monkeypatch.setenv(ENV, KEY)
    settings = make_settings(judges_config(server), **FAST)
    body = run_body("claude", 6)
    with serve(create_app(settings)) as url, JudgeClient(url) as client:
        created = client.create_run(body["items"], baseline="base", candidate="tuned", rubric="helpfulness",
                                    judges=["claude"], execution={"claude": "batch"})
        status = client.wait_for_run(created.id, poll_interval=0.05, timeout=60)
        assert status.status == "done" and status.execution == {"claude": "batch"}
        assert status.batches and sum(b.completed for b in status.batches) == 12 == server.batches.requests
        assert status.cost is not None and status.cost.usd == pytest.approx(status.cost.direct_usd / 2)

        items = tmp_path / "items.jsonl"
        items.write_text("".join(json.dumps(it | {"id": f"cli-{it['id']}"}) + "\n" for it in body["items"]))
        runner = CliRunner()
        result = runner.invoke(cli, ["run", "create", str(items), "--baseline", "base", "--candidate", "tuned",
                                     "--rubric", "helpfulness", "-j", "gpt", "--execution", "batch", "--url", url,
                                     "--poll-interval", "0.05"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert "batches:" in result.stderr and "12/12 calls answered" in result.stderr  # the progress bar follows
        assert "as direct calls)" in result.stdout.strip().splitlines()[-1]  # paid vs direct-equivalent
        run_id = next(w for w in result.stderr.split() if w.startswith("run_"))
        shown = runner.invoke(cli, ["run", "status", run_id, "--url", url], catch_exceptions=False)
        assert "1 batches: 12/12 calls answered, 0 pending" in shown.stdout and "collected" in shown.stdout
        refused = runner.invoke(cli, ["run", "cancel", run_id, "--url", url])
        assert refused.exit_code != 0 and "only a queued or running run can be cancelled" in refused.output
        bad = runner.invoke(cli, ["run", "create", str(items), "--baseline", "base", "--candidate", "tuned",
                                  "--rubric", "helpfulness", "-e", "gpt", "-e", "claude=batch", "--url", url])
        assert bad.exit_code == 2 and "JUDGE=MODE" in bad.output


def test_batch_bookkeeping_on_each_database_and_a_rerun_is_free(server, make_client, monkeypatch, db_url):
    monkeypatch.setenv(ENV, KEY)
    server.batches.enqueue("expire")  # half of the first batch is cut off and sent again
    server.batches.delay_s = 0.5
    client = make_client(judges_config(server), database_url=db_url, batch_direct_below=0, **FAST)
    status = wait_done(client, start(client, run_body("gpt", 8, execution="batch")), timeout=60)
    assert status["status"] == "done" and status["progress"]["done"] == 8
    from judge_service.store.models import JudgeCallRow

    with client.app.state.ctx.db.session() as s:  # each call's latency is the time to its batch's end
        latencies = [row.latency_ms for row in s.query(JudgeCallRow).filter(JudgeCallRow.owner_id.startswith(status["id"]))]
    assert len(latencies) == 16 and min(latencies) >= 500
    assert server.batches.requests == 16 + 8 and server.calls == 0
    assert (status["cost"]["calls"], status["cost"]["cached_calls"]) == (16, 0)
    assert [b["provider_status"] for b in status["batches"]] == ["expired", "completed"]
    assert [(b["completed"], b["failed"]) for b in status["batches"]] == [(8, 8), (8, 0)]

    again = wait_done(client, start(client, run_body("gpt", 8, execution="batch")), timeout=60)
    assert server.batches.requests == 24 and again["batches"] == []  # every call came from the cache
    assert (again["cost"]["calls"], again["cost"]["cached_calls"], again["cost"]["usd"]) == (0, 16, 0.0)


def test_batches_are_split_at_the_providers_request_and_byte_limits():
    import asyncio

    from judge_service.engine.batch import _split, _Waiter
    from judge_service.judges.base import ChatMessage, JudgeRequest

    class Limits:  # the two limits and the size of a request line, as a BatchAPI states them
        max_requests = 3
        max_bytes = 100

        def request_line_bytes(self, custom_id, request):
            return len(request.messages[0].content)

    loop = asyncio.new_event_loop()
    sizes = [10, 10, 10, 10, 60, 50, 40, 100, 5]
    waiters = [_Waiter(None, JudgeRequest((ChatMessage("user", "x" * n),), ()), f"k{i}", loop.create_future())  # type: ignore[arg-type]
               for i, n in enumerate(sizes)]
    chunks = _split(Limits(), waiters)  # type: ignore[arg-type]
    loop.close()
    assert [[sizes[int(w.key[1:])] for w in chunk] for chunk in chunks] == [[10, 10, 10], [10, 60], [50, 40], [100], [5]]
