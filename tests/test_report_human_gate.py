"""Judge-vs-human agreement from a calibration as a check of the informativeness gate (issue 14 §1)."""

from __future__ import annotations

import random

from test_calibration_api import wait
from test_runs_api import make_items, run_body

from conftest import wait_done


def pairwise_calibration(client, *, humans_prefer_longer: bool) -> dict:
    """A pairwise rating set judged by 'longer' (it prefers the longer answer); the humans agree or not."""
    rng = random.Random(3)
    items = []
    for i in range(30):
        la, lb = rng.randint(5, 60), rng.randint(5, 60)
        while abs(la - lb) < 6:
            lb = rng.randint(5, 60)
        longer = "A" if la > lb else "B"
        vote = longer if humans_prefer_longer else ("B" if longer == "A" else "A")
        items.append({"id": f"p{i}", "prompt": "q", "response_a": "a" * la, "response_b": "b" * lb,
                      "ratings": {"h1": vote, "h2": vote}})
    name = "agree" if humans_prefer_longer else "disagree"
    rs = client.post("/v1/rating-sets", json={"name": name, "kind": "pairwise", "rubric": "helpfulness",
                                              "items": items}).json()
    cal = wait(client, client.post("/v1/calibrations", json={"rating_set": rs["id"], "judges": ["longer"],
                                                             "folds": 3}).json()["id"])
    assert cal["status"] == "done", cal["error"]
    return cal


def human_check(rep: dict) -> dict:
    judge = next(j for j in rep["judges"] if j["judge"] == "longer")
    return next(c for c in judge["informativeness"]["checks"] if c["name"] == "human_agreement")


def test_a_judge_the_humans_disagree_with_cannot_declare_a_winner(client):
    cal = pairwise_calibration(client, humans_prefer_longer=False)
    kappa = cal["report"]["judge_vs_human"]["cohen_kappa"]
    assert kappa["ci_high"] < 0  # the judge's votes are the humans' reversed
    run_id = client.post("/v1/runs", json=run_body(make_items(20), options={"human_check": cal["id"]})).json()["id"]
    wait_done(client, run_id)
    rep = client.get(f"/v1/runs/{run_id}/report").json()
    check = human_check(rep)
    assert check["passed"] is False and check["value"] == kappa["estimate"]
    assert f"calibration '{cal['id']}'" in check["detail"] and "better than chance" in check["detail"]
    assert rep["decision"]["outcome"] == "undetermined"
    assert rep["decision"]["checks"][0]["name"] == "informative_judge" and not rep["decision"]["checks"][0]["passed"]
    assert "configure a stronger judge" in rep["verdict"]


def test_a_judge_the_humans_agree_with_passes_the_human_check(client):
    cal = pairwise_calibration(client, humans_prefer_longer=True)
    figure = cal["report"]["judge_vs_human"]["cohen_kappa"]
    # by hand: 'longer' names the humans' vote on all 30 items (lengths differ by >= 6), so kappa is 1
    assert figure["estimate"] == 1.0 and figure["n"] == 30
    run_id = client.post("/v1/runs", json=run_body(make_items(20), options={"human_check": cal["id"]})).json()["id"]
    wait_done(client, run_id)
    check = human_check(client.get(f"/v1/runs/{run_id}/report").json())
    assert check["passed"] is True and check["value"] == 1.0


def test_human_check_refusals_name_the_field(client):
    r = client.post("/v1/runs", json=run_body(make_items(3), options={"human_check": "cal_nope"}))
    assert r.status_code == 404 and r.json()["error"]["field"] == "options.human_check"


def test_cli_run_create_takes_human_check(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from conftest import SCRIPTED_JUDGES, write_config
    from judge_service.cli import app

    monkeypatch.setenv("JUDGE_CONFIG", str(write_config(tmp_path / "judges.yaml", SCRIPTED_JUDGES)))
    monkeypatch.setenv("JUDGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("JUDGE_URL", raising=False)
    items = tmp_path / "items.jsonl"
    items.write_text("\n".join(f'{{"id": "q{i}", "prompt": "Q{i}?", "outputs": {{"base": "a", "tuned": "bb"}}}}'
                               for i in range(3)))
    result = CliRunner().invoke(app, ["run", "create", str(items), "--baseline", "base", "--candidate", "tuned",
                                      "-r", "helpfulness", "--human-check", "cal_nope", "--local"],
                                catch_exceptions=False)
    assert result.exit_code == 1 and "(field: options.human_check)" in result.stderr
