"""Training-log analyses through HTTP, the Python client and the `judge curves` CLI."""

from __future__ import annotations

import base64
import io
import json
import zipfile

from typer.testing import CliRunner

from judge_client import JudgeClient, TrainingAnalysis
from judge_client._exceptions import InvalidInput as ClientInvalidInput
from judge_service.cli import app as cli_app
from conftest import SCRIPTED_JUDGES, SHARED_DATA, write_config

LOGS = SHARED_DATA / "training_logs"
WHISPER = LOGS / "Merlinmy__Whisper_small_hi" / "trainer_state.json"
MT5 = LOGS / "NijatZeynalov__mT5-based-azerbaijani-news-summarize" / "trainer_state.json"


def test_multipart_upload_is_stored_listed_and_charted(make_client):
    client = make_client()
    options = {"name": "whisper", "checkpoints": {
        "checkpoint-1000": {"judge_win_rate": {"estimate": 0.40, "ci_low": 0.35, "ci_high": 0.45, "n": 300}},
        "checkpoint-4000": {"judge_win_rate": {"estimate": 0.58, "ci_low": 0.53, "ci_high": 0.63, "n": 300}}}}
    r = client.post("/v1/training-logs/analyses", files={"files": ("trainer_state.json", WHISPER.read_bytes())},
                    data={"options": json.dumps(options)})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["verdict"] == "overfitting" and body["primary"]["best_step"] == 1000
    ext = body["external"][0]
    assert ext["metric"] == "judge_win_rate" and ext["best_step"] == 4000 and ext["disagrees"] is True
    got = client.get(f"/v1/training-logs/analyses/{body['id']}")
    assert got.status_code == 200 and got.json()["verdict"] == "overfitting"
    assert body["id"] in [a["id"] for a in client.get("/v1/training-logs/analyses").json()]
    svg = client.get(body["chart_url"])
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert "<svg" in svg.text and "best 1000" in svg.text and "onset 1000" in svg.text


def test_json_body_with_base64_zip_of_an_output_dir(make_client):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("out/trainer_state.json", MT5.read_bytes())
        z.writestr("out/README.md", "not a log")
    r = make_client().post("/v1/training-logs/analyses", json={
        "logs": [{"name": "out.zip", "content_base64": base64.b64encode(buffer.getvalue()).decode()}]})
    assert r.status_code == 201, r.text
    assert r.json()["verdict"] == "no_overfitting" and r.json()["primary"]["best_step"] == 6900


def test_bad_inputs_are_4xx_never_500(make_client):
    client = make_client(max_body_bytes=100_000)
    unknown = client.post("/v1/training-logs/analyses", files={"files": ("notes.txt", b"hello")})
    assert unknown.status_code == 422 and unknown.json()["error"]["field"] == "notes.txt"
    empty = client.post("/v1/training-logs/analyses", json={"logs": [{"name": "trainer_state.json", "content": ""}]})
    assert empty.status_code == 422
    nan_log = {"log_history": [{"eval_loss": v, "step": s} for s, v in [(1, 2.0), (2, 1.9), (3, "NaN"), (4, 1.8)]]}
    nan = client.post("/v1/training-logs/analyses", json={"logs": [{"name": "s.json", "content": json.dumps(nan_log)}]})
    assert nan.status_code == 201 and "non_finite_values" in [f["code"] for f in nan.json()["flags"]]
    big = client.post("/v1/training-logs/analyses", files={"files": ("trainer_state.json", b"{" + b" " * 200_000 + b"}")})
    assert big.status_code == 413
    assert client.post("/v1/training-logs/analyses", content=b"{oops", headers={"content-type": "application/json"}).status_code == 422
    assert client.get("/v1/training-logs/analyses/tla_nope").status_code == 404


def test_client_sync_and_async_on_a_real_socket(make_settings, tmp_path):
    import asyncio

    from judge_client import AsyncJudgeClient
    from judge_service.app import create_app
    from test_client import serve

    bad = tmp_path / "x.txt"
    bad.write_text("nope")
    with serve(create_app(make_settings())) as url:
        with JudgeClient(url) as client:
            result = client.analyze_training_logs(WHISPER, name="w")
            assert isinstance(result, TrainingAnalysis) and result.verdict == "overfitting"
            assert "coarse_eval_resolution" in result.flag_codes()
            assert client.get_training_analysis(result.id).id == result.id
            try:
                client.analyze_training_logs(bad)
                raise AssertionError("a non-log must be refused")
            except ClientInvalidInput as e:
                assert "x.txt" in str(e)

        async def go() -> str:
            async with AsyncJudgeClient(url) as ac:
                return (await ac.analyze_training_logs([MT5])).verdict

        assert asyncio.run(go()) == "no_overfitting"


def test_cli_exit_codes_json_and_html(tmp_path, monkeypatch):
    monkeypatch.setenv("JUDGE_CONFIG", str(write_config(tmp_path / "judges.yaml", SCRIPTED_JUDGES)))
    monkeypatch.setenv("JUDGE_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    html = tmp_path / "report.html"
    over = runner.invoke(cli_app, ["curves", "analyze", str(WHISPER), "--local", "--html", str(html)])
    assert over.exit_code == 3, over.output
    assert "verdict: overfitting" in over.output and "<svg" in html.read_text()
    fine = runner.invoke(cli_app, ["curves", "analyze", str(MT5), "--local", "--json"])
    assert fine.exit_code == 0 and json.loads(fine.stdout)["verdict"] == "no_overfitting"
    none = runner.invoke(cli_app, ["curves", "analyze", str(LOGS / "hykun1989__360-LLaMA-Factory-grpo"), "--local"])
    assert none.exit_code == 4 and "no_eval_series" in none.output
    missing = runner.invoke(cli_app, ["curves", "analyze", str(tmp_path / "nope.json"), "--local"])
    assert missing.exit_code == 2


def test_judge_runs_per_checkpoint_are_shown_beside_the_loss(make_client):
    from conftest import wait_done

    client = make_client()
    run_ids = {}
    for label, long_candidate in (("checkpoint-1000", False), ("checkpoint-4000", True)):
        items = [{"id": f"q{i}", "prompt": f"Question {i}?",
                  "outputs": {"base": f"Answer {i}.", "tuned": f"A fuller answer {i}, with detail." if long_candidate else f"A{i}"}}
                 for i in range(8)]
        created = client.post("/v1/runs", json={"rubric": "helpfulness", "judges": ["longer"], "mode": "pairwise",
                                                "baseline": "base", "candidate": "tuned", "items": items})
        assert created.status_code == 202, created.text
        run_ids[label] = created.json()["id"]
        assert wait_done(client, run_ids[label])["status"] == "done"
    r = client.post("/v1/training-logs/analyses", files={"files": ("trainer_state.json", WHISPER.read_bytes())},
                    data={"options": json.dumps({"runs": run_ids})})
    assert r.status_code == 201, r.text
    ext = r.json()["external"][0]
    assert ext["metric"] == "judge_win_rate" and ext["best_step"] == 4000
    # the 'longer' judge prefers the longer (checkpoint-4000) answers every time: 1.0 vs 0.0, CIs apart
    assert ext["disagrees"] is True and any("judge_win_rate disagrees" in d for d in r.json()["disagreements"])
    missing = client.post("/v1/training-logs/analyses", files={"files": ("trainer_state.json", WHISPER.read_bytes())},
                          data={"options": json.dumps({"runs": {"checkpoint-1000": "run_nope"}})})
    assert missing.status_code == 404
