"""A run exported as FastChat model_judgment JSONL reads back through show_result.py's own pandas
steps (copied here as the reference: read_json(lines=True), drop errors, tally; mean of scores
without −1) with the figures the run's verdicts imply: real MT-Bench answers from ../shared,
judged by scripted judges whose verdicts are known in advance. Through HTTP, client and CLI."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import SHARED_DATA, SCRIPTED_JUDGES, wait_done, write_config
from judge_client import JudgeClient
from judge_service.app import create_app
from judge_service.cli import app as cli
from judge_client._imports import read_records
from test_client import serve

MT = SHARED_DATA / "mt_bench"
OPUS = MT / "model_answer" / "claude-3-opus-20240229.jsonl"
SONNET = MT / "model_answer" / "claude-3-5-sonnet-20240620.jsonl"
BASE, CAND = "claude-3-opus-20240229", "claude-3-5-sonnet-20240620"


def show_result_pairwise(text: str, baseline: str | None) -> pd.DataFrame:
    """fastchat/llm_judge/show_result.py display_result_pairwise, step for step."""
    df_all = pd.read_json(io.StringIO(text), lines=True)
    df_all = df_all[(df_all["g1_winner"] != "error") & (df_all["g2_winner"] != "error")]
    list_res = []
    for _, row in df_all.iterrows():
        if baseline is not None and baseline not in [row["model_1"], row["model_2"]]:
            continue
        if row["g1_winner"] == "tie" or row["g1_winner"] != row["g2_winner"]:
            list_res.append({"model": row["model_1"], "win": 0, "loss": 0, "tie": 1})
            list_res.append({"model": row["model_2"], "win": 0, "loss": 0, "tie": 1})
        else:
            winner, loser = ((row["model_1"], row["model_2"]) if row["g1_winner"] == "model_1"
                             else (row["model_2"], row["model_1"]))
            list_res.append({"model": winner, "win": 1, "loss": 0, "tie": 0})
            list_res.append({"model": loser, "win": 0, "loss": 1, "tie": 0})
    df = pd.DataFrame(list_res).groupby(["model"]).sum()
    if baseline is not None:
        df = df[df.index != baseline]
    total = df["win"] + df["loss"] + df["tie"]
    df["win_rate_adjusted"] = (df["win"] + 0.5 * df["tie"]) / total
    return df


def show_result_single(text: str) -> pd.DataFrame:
    df_all = pd.read_json(io.StringIO(text), lines=True)
    df = df_all[["model", "score", "turn"]]
    df = df[df["score"] != -1]
    return df[["model", "score"]].groupby(["model"]).mean()


@pytest.fixture
def mt_items(client) -> list[dict]:
    body = {"questions": read_records(MT / "question.jsonl"), "baseline_answers": read_records(OPUS),
            "candidate_answers": read_records(SONNET), "turns": [1, 2]}
    r = client.post("/v1/imports/mt-bench", json=body)
    assert r.status_code == 200, r.text
    return r.json()["items"][:40]  # questions 81-100, both turns: enough to exercise both, fast


def _run(client, items, mode, judges) -> str:
    r = client.post("/v1/runs", json={"rubric": "helpfulness", "judges": judges, "mode": mode, "baseline": BASE,
                                      "candidate": CAND, "items": items})
    assert r.status_code == 202, r.text
    assert wait_done(client, r.json()["id"])["status"] == "done"
    return r.json()["id"]


def test_pair_export_reads_back_through_show_result(client, mt_items):
    run_id = _run(client, mt_items, "pairwise", ["longer", "first"])
    r = client.get(f"/v1/runs/{run_id}/export/fastchat", params={"kind": "pair", "judge": "longer"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(x) for x in r.text.splitlines()]
    assert len(lines) == 40
    assert {(x["question_id"], x["turn"]) for x in lines} == {(81 + i // 2, 1 + i % 2) for i in range(40)}
    assert all(x["model_1"] == BASE and x["model_2"] == CAND for x in lines)
    # The 'longer' judge picks the longer response block in both orders: by hand from the items. A
    # turn-2 block holds that system's whole conversation (the same questions, its own two answers).
    def shown(item: dict, system: str) -> int:
        return len(item["outputs"][system]) + sum(len(t) for t in (item.get("histories") or {}).get(system, []))

    longer = [shown(i, CAND) > shown(i, BASE) for i in mt_items]
    shorter = [shown(i, CAND) < shown(i, BASE) for i in mt_items]
    win, loss = sum(longer), sum(shorter)
    tie = len(mt_items) - win - loss
    df = show_result_pairwise(r.text, BASE)
    assert list(df.index) == [CAND]
    assert (int(df.loc[CAND, "win"]), int(df.loc[CAND, "loss"]), int(df.loc[CAND, "tie"])) == (win, loss, tie)
    assert df.loc[CAND, "win_rate_adjusted"] == pytest.approx((win + tie / 2) / 40)
    assert 0 < win < 40 and loss > 0  # real answers: sonnet is longer on some, opus on others
    # The position-biased judge: AB says baseline, BA says candidate, so every row is a disagreement = tie.
    first = client.get(f"/v1/runs/{run_id}/export/fastchat", params={"judge": "first"}).text
    rows = [json.loads(x) for x in first.splitlines()]
    assert {(x["g1_winner"], x["g2_winner"]) for x in rows} == {("model_1", "model_2")}
    assert show_result_pairwise(first, BASE).loc[CAND, "win_rate_adjusted"] == 0.5
    # Our own MT-Bench importer reads the export back to the same figure.
    both = client.get(f"/v1/runs/{run_id}/export/fastchat").text
    back = client.post("/v1/imports/mt-bench", json={
        "questions": read_records(MT / "question.jsonl"), "baseline_answers": read_records(OPUS),
        "candidate_answers": read_records(SONNET), "pair_judgments": [json.loads(x) for x in both.splitlines()],
        "pair_baseline": BASE}).json()
    assert back["pairwise"][0]["win_rate_adjusted"] == pytest.approx(
        show_result_pairwise(both, BASE).loc[CAND, "win_rate_adjusted"])


def test_single_export_is_the_runs_mean_score(client, mt_items):
    run_id = _run(client, mt_items[:10], "absolute", ["lengthy-scorer"])
    text = client.get(f"/v1/runs/{run_id}/export/fastchat", params={"kind": "single"}).text
    lines = [json.loads(x) for x in text.splitlines()]
    assert len(lines) == 20 and {x["model"] for x in lines} == {BASE, CAND}
    items = client.get(f"/v1/runs/{run_id}/items").json()
    for role, name in (("baseline", BASE), ("candidate", CAND)):
        scores = [i["result"]["absolute"][role]["judges"][0]["score"] for i in items]
        assert show_result_single(text).loc[name, "score"] == pytest.approx(sum(scores) / len(scores))


def test_export_refusals_name_the_field(client, mt_items):
    run_id = _run(client, mt_items[:4], "pairwise", ["longer"])
    r = client.get(f"/v1/runs/{run_id}/export/fastchat", params={"kind": "single"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "kind"
    r = client.get(f"/v1/runs/{run_id}/export/fastchat", params={"judge": "nobody"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "judge"
    assert client.get("/v1/runs/run_missing/export/fastchat").status_code == 404


def test_client_and_cli_export(make_settings, tmp_path, monkeypatch):
    items = [{"id": f"mt-{81 + k}-t1", "prompt": f"Q{k}", "outputs": {BASE: "short", CAND: "a longer answer"}}
             for k in range(6)]
    with serve(create_app(make_settings())) as url, JudgeClient(url) as c:
        run = c.create_run(items, baseline=BASE, candidate=CAND, rubric="helpfulness", judges=["longer"])
        c.wait_for_run(run.id, timeout=60)
        path = tmp_path / "gpt-4_pair.jsonl"
        text = c.export_fastchat(run.id, path=path)
        assert path.read_text() == text
        assert show_result_pairwise(text, BASE).loc[CAND, "win_rate_adjusted"] == 1.0
    monkeypatch.setenv("JUDGE_CONFIG", str(write_config(tmp_path / "judges.yaml", SCRIPTED_JUDGES)))
    monkeypatch.setenv("JUDGE_DATA_DIR", str(tmp_path / "cli-data"))
    runner = CliRunner()
    items_file = tmp_path / "items.jsonl"
    items_file.write_text("".join(json.dumps(i) + "\n" for i in items))
    res = runner.invoke(cli, ["run", "create", "--local", str(items_file), "--baseline", BASE, "--candidate", CAND,
                              "-r", "helpfulness", "-j", "longer", "--wait", "--json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    run_id = json.loads(res.output[res.output.index("{"):])["run_id"]  # --wait --json prints the report
    out = tmp_path / "cli_pair.jsonl"
    res = runner.invoke(cli, ["export", "fastchat", "--local", run_id, "-o", str(out)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "6 lines written" in res.output and "show_result.py --mode pairwise-all" in res.output
    assert show_result_pairwise(out.read_text(), None).loc[CAND, "win"] == 6


ALPACA = SHARED_DATA / "alpaca_eval" / "results"


def test_alpaca_eval_export_reads_back_as_alpaca_evals_win_rate(client, tmp_path, monkeypatch):
    """Real AlpacaEval outputs judged here, exported as annotations.json: AlpacaEval's own win-rate
    rule on the export (our importer applies it) equals the run's mean candidate probability."""
    imported = client.post("/v1/imports/alpaca-eval", json={
        "baseline_outputs": read_records(ALPACA / "phi-2" / "model_outputs.json"),
        "candidate_outputs": read_records(ALPACA / "phi-2-sft" / "model_outputs.json.xz")}).json()
    items = imported["items"][:20]
    r = client.post("/v1/runs", json={"rubric": "helpfulness", "judges": ["longer", "first"], "baseline": "phi-2",
                                      "candidate": "phi-2-sft", "items": items})
    run_id = r.json()["id"]
    wait_done(client, run_id)
    rows = client.get(f"/v1/runs/{run_id}/export/alpaca-eval").json()
    assert [r["instruction"] for r in rows] == [i["prompt"] for i in items]
    assert all(r["generator_1"] == "phi-2" and r["output_1"] == i["outputs"]["phi-2"] for r, i in zip(rows, items))
    per_item = []
    for it in client.get(f"/v1/runs/{run_id}/items").json():
        probs = [p for j in it["result"]["pairwise"]["judges"] for o in j["orders"] for p in o["prob_candidate"]]
        per_item.append(sum(probs) / len(probs))
    back = client.post("/v1/imports/alpaca-eval", json={
        "baseline_outputs": read_records(ALPACA / "phi-2" / "model_outputs.json"),
        "candidate_outputs": read_records(ALPACA / "phi-2-sft" / "model_outputs.json.xz"),
        "candidate_annotations": [{k: v for k, v in r.items() if k != "id"} for r in rows]}).json()
    assert back["annotations"]["phi-2-sft"]["win_rate"] == pytest.approx(100 * sum(per_item) / len(per_item))
    assert back["annotations"]["phi-2-sft"]["n_total"] == 20
    monkeypatch.setenv("JUDGE_CONFIG", str(write_config(tmp_path / "judges.yaml", SCRIPTED_JUDGES)))
    monkeypatch.setenv("JUDGE_DATA_DIR", str(tmp_path / "cli-data"))
    items_file = tmp_path / "items.jsonl"
    items_file.write_text("".join(json.dumps(i) + "\n" for i in items[:5]))
    runner = CliRunner()
    res = runner.invoke(cli, ["run", "create", "--local", str(items_file), "--baseline", "phi-2", "--candidate",
                              "phi-2-sft", "-r", "helpfulness", "-j", "longer", "--json"], catch_exceptions=False)
    cli_run = json.loads(res.output[res.output.index("{"):])["run_id"]
    out = tmp_path / "annotations.json"
    res = runner.invoke(cli, ["export", "alpaca-eval", "--local", cli_run, "-o", str(out)], catch_exceptions=False)
    assert res.exit_code == 0 and "5 annotations written" in res.output, res.output
    assert len(json.loads(out.read_text())) == 5
    assert client.get("/v1/runs/run_missing/export/alpaca-eval").status_code == 404
