"""Checkpoint sweep (issue 16 §4): the judges compare the checkpoints a real log's analysis names
(best by loss, earliest equivalent, last) against base, and the sweep says whether they agree
with the loss. Judged by the in-process scripted judge that prefers the longer answer, so which
checkpoint "wins" is set by the outputs' lengths."""

from __future__ import annotations

import json
import time

from typer.testing import CliRunner

from conftest import SCRIPTED_JUDGES, SHARED_DATA, write_config
from judge_client import CheckpointSweep, JudgeClient
from judge_service.cli import app as cli_app

LOGS = SHARED_DATA / "training_logs"
WHISPER = LOGS / "Merlinmy__Whisper_small_hi" / "trainer_state.json"  # best 1000 (= earliest equivalent), last 5000


def items(n: int, lengths: dict[str, int]) -> list[dict]:
    return [{"id": f"q{i}", "prompt": f"Transcribe clip {i}.",
             "outputs": {name: " ".join([f"w{i}"] * size) for name, size in lengths.items()}} for i in range(n)]


def analysis_id(client) -> str:
    r = client.post("/v1/training-logs/analyses", files={"files": ("trainer_state.json", WHISPER.read_bytes())})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def wait_sweep(client, aid: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/v1/training-logs/analyses/{aid}/sweep").json()
        if body["agreement"] != "pending":
            return body
        time.sleep(0.1)
    raise AssertionError(f"sweep of {aid} did not finish")


def sweep_body(rows: list[dict], **kw) -> dict:
    return {"rubric": "helpfulness", "judges": ["longer"], "baseline": "base", "items": rows} | kw


def test_judges_preferring_the_last_checkpoint_disagree_with_the_loss(client):
    aid = analysis_id(client)
    # The loss's pick (step 1000) answers shorter than base, the last checkpoint longer.
    r = client.post(f"/v1/training-logs/analyses/{aid}/sweep",
                    json=sweep_body(items(20, {"base": 6, "checkpoint-1000": 3, "checkpoint-5000": 12})))
    assert r.status_code == 202, r.text
    started = r.json()
    assert [(c["step"], c["roles"]) for c in started["checkpoints"]] == [
        (1000, ["best_by_loss", "earliest_equivalent"]), (5000, ["last"])]
    assert started["agreement"] in ("pending", "disagree")
    done = wait_sweep(client, aid)
    by_step = {c["step"]: c for c in done["checkpoints"]}
    assert by_step[1000]["metric_value"] < by_step[5000]["metric_value"]  # the loss prefers 1000 ...
    assert by_step[5000]["win_rate"]["ci_low"] > by_step[1000]["win_rate"]["ci_high"]  # ... the judges 5000
    assert done["agreement"] == "disagree" and done["judges_prefer"] == "checkpoint-5000"
    assert "eval loss and judged quality disagree" in done["statement"] and "n=20" in done["statement"]
    # Each checkpoint is an ordinary run against base, readable through the runs API.
    run = client.get(f"/v1/runs/{by_step[5000]['run_id']}").json()
    assert (run["baseline"], run["candidate"], run["progress"]["done"]) == ("base", "checkpoint-5000", 20)


def test_judges_preferring_the_loss_pick_agree_and_overlap_cannot_tell(client):
    aid = analysis_id(client)
    client.post(f"/v1/training-logs/analyses/{aid}/sweep",
                json=sweep_body(items(20, {"base": 6, "checkpoint-1000": 12, "checkpoint-5000": 3})))
    agree = wait_sweep(client, aid)
    assert agree["agreement"] == "agree" and agree["judges_prefer"] == "checkpoint-1000", agree
    other = analysis_id(client)  # same lengths for both checkpoints: the judges cannot separate them
    client.post(f"/v1/training-logs/analyses/{other}/sweep",
                json=sweep_body(items(20, {"base": 6, "checkpoint-1000": 9, "checkpoint-5000": 9})))
    same = wait_sweep(client, other)
    assert same["agreement"] == "cannot_tell" and same["judges_prefer"] is None, same


def test_bad_sweeps_are_refused_before_any_run_is_made(client):
    aid = analysis_id(client)
    from judge_service.store.models import RunRow

    def n_runs() -> int:
        with client.app.state.ctx.db.session() as s:
            return s.query(RunRow).count()

    runs_before = n_runs()
    missing = client.post(f"/v1/training-logs/analyses/{aid}/sweep",
                          json=sweep_body(items(3, {"base": 6, "checkpoint-1000": 3})))
    assert missing.status_code == 422, missing.text
    err = missing.json()["error"]
    assert err["field"] == "items.0.outputs" and "'checkpoint-5000' (last)" in err["message"]
    template = client.post(f"/v1/training-logs/analyses/{aid}/sweep",
                           json=sweep_body(items(3, {"base": 6}), checkpoint_name="ckpt"))
    assert template.status_code == 422 and template.json()["error"]["field"] == "checkpoint_name"
    rubric = client.post(f"/v1/training-logs/analyses/{aid}/sweep", json=sweep_body(
        items(3, {"base": 6, "checkpoint-1000": 3, "checkpoint-5000": 9}), rubric="no-such-rubric"))
    assert rubric.status_code == 404 and rubric.json()["error"]["field"] == "rubric"
    assert client.get(f"/v1/training-logs/analyses/{aid}/sweep").status_code == 404  # nothing was stored
    assert n_runs() == runs_before
    no_eval = client.post("/v1/training-logs/analyses", files={"files": (
        "trainer_log.jsonl", (LOGS / "hykun1989__360-LLaMA-Factory-grpo" / "trainer_log.jsonl").read_bytes())}).json()
    refused = client.post(f"/v1/training-logs/analyses/{no_eval['id']}/sweep", json=sweep_body(items(3, {"base": 6})))
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "id"
    assert "no eval curve" in refused.json()["error"]["message"]
    assert client.post("/v1/training-logs/analyses/tla_nope/sweep", json=sweep_body(items(3, {"base": 6}))).status_code == 404
    ok = client.post(f"/v1/training-logs/analyses/{aid}/sweep",
                     json=sweep_body(items(3, {"base": 6, "checkpoint-1000": 3, "checkpoint-5000": 9})))
    assert ok.status_code == 202
    again = client.post(f"/v1/training-logs/analyses/{aid}/sweep",
                        json=sweep_body(items(3, {"base": 6, "checkpoint-1000": 3, "checkpoint-5000": 9})))
    assert again.status_code == 409 and again.json()["error"]["field"] == "id"
    wait_sweep(client, aid)  # the app is not stopped with the sweep's runs in flight


def test_client_and_cli_sweep(make_settings, tmp_path, monkeypatch):
    from judge_service.app import create_app
    from test_client import serve

    rows = items(12, {"base": 6, "checkpoint-1000": 3, "checkpoint-5000": 12})
    path = tmp_path / "outputs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with serve(create_app(make_settings())) as url:
        with JudgeClient(url) as client:
            analysis = client.analyze_training_logs(WHISPER)
            started = client.sweep_checkpoints(analysis.id, path, baseline="base", rubric="helpfulness", judges=["longer"])
            assert isinstance(started, CheckpointSweep) and len(started.checkpoints) == 2
            deadline = time.monotonic() + 60
            sweep = started
            while sweep.agreement == "pending" and time.monotonic() < deadline:
                time.sleep(0.1)
                sweep = client.get_checkpoint_sweep(analysis.id)
            assert sweep.agreement == "disagree" and sweep.checkpoints[1].win_rate.estimate > 0.9
            other = client.analyze_training_logs(WHISPER)
        runner = CliRunner()
        result = runner.invoke(cli_app, ["curves", "sweep", other.id, str(path), "--baseline", "base", "-r", "helpfulness",
                                         "-j", "longer", "--url", url])
    assert result.exit_code == 6, result.output
    assert "checkpoint-5000 (last)" in result.output and result.output.strip().splitlines()[-1].startswith("disagree:")
