"""Importers: real AlpacaEval and FastChat MT-Bench files from ../shared reproduce those tools'
own headline figures exactly, become run items that a run accepts, and bad files are 422s naming
the field. Through HTTP, the Python client (on a real socket) and the CLI."""

from __future__ import annotations

import json
import lzma
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import SHARED_DATA, SCRIPTED_JUDGES, wait_done, write_config
from judge_client import JudgeClient
from judge_client._imports import read_records
from judge_service.app import create_app
from judge_service.cli import app as cli
from test_client import serve

ALPACA = SHARED_DATA / "alpaca_eval" / "results"
MT = SHARED_DATA / "mt_bench"
PHI2_OUT = ALPACA / "phi-2" / "model_outputs.json"
SFT_OUT = ALPACA / "phi-2-sft" / "model_outputs.json.xz"
PHI2_ANN = ALPACA / "phi-2" / "weighted_alpaca_eval_gpt4_turbo" / "annotations.json.xz"
SFT_ANN = ALPACA / "phi-2-sft" / "weighted_alpaca_eval_gpt4_turbo" / "annotations.json.xz"
OPUS = MT / "model_answer" / "claude-3-opus-20240229.jsonl"
SONNET = MT / "model_answer" / "claude-3-5-sonnet-20240620.jsonl"
SINGLE = MT / "model_judgment" / "gpt-4_single.jsonl.xz"

# The leaderboard rows published in weighted_alpaca_eval_gpt4_turbo_leaderboard.csv (shared/data/README.md).
PUBLISHED = {
    "phi-2": {"win_rate": 2.350209543026152, "standard_error": 0.4496590405673333, "n_wins": 15,
              "n_wins_base": 785, "n_draws": 3, "n_total": 803, "discrete_win_rate": 2.054794520547945},
    "phi-2-sft": {"win_rate": 3.977567775217392, "standard_error": 0.6098271417287373, "n_wins": 28,
                  "n_wins_base": 777, "n_draws": 0, "n_total": 805, "discrete_win_rate": 3.4782608695652173},
}


def _alpaca_body() -> dict:
    keep_ann = ("instruction", "output_1", "generator_1", "output_2", "generator_2", "annotator", "preference")
    return {"baseline_outputs": read_records(PHI2_OUT), "candidate_outputs": read_records(SFT_OUT),
            "baseline_annotations": [{k: r[k] for k in keep_ann} for r in read_records(PHI2_ANN)],
            "candidate_annotations": [{k: r[k] for k in keep_ann} for r in read_records(SFT_ANN)]}


def test_alpaca_eval_reproduces_the_leaderboard_rows(client):
    r = client.post("/v1/imports/alpaca-eval", json=_alpaca_body())
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["baseline"], body["candidate"]) == ("phi-2", "phi-2-sft")
    for arm, row in PUBLISHED.items():
        got = body["annotations"][arm]
        for key, value in row.items():
            assert got[key] == pytest.approx(value, rel=1e-12, abs=1e-12), (arm, key)
        assert got["annotator"] == "weighted_alpaca_eval_gpt4_turbo"
        assert got["baseline_generator"] == "gpt4_1106_preview"
    assert body["comparable"] is True
    # phi-2 lacks two of the 805 instructions: they are reported, not dropped silently.
    assert len(body["items"]) == 803 and body["only_baseline"] == []
    assert len(body["only_candidate"]) == 2
    assert any("TCP/IP" in i for i in body["only_candidate"])
    assert any("merchant navy" in i.lower() for i in body["only_candidate"])
    assert body["warnings"] and "2 only in the candidate" in body["warnings"][0]
    item = body["items"][0]
    assert set(item["outputs"]) == {"phi-2", "phi-2-sft"} and item["prompt"]


def test_alpaca_eval_arms_by_different_annotators_are_not_comparable(client):
    body = _alpaca_body()
    for row in body["candidate_annotations"]:
        row["annotator"] = "alpaca_eval_gpt4"
    out = client.post("/v1/imports/alpaca-eval", json=body).json()
    assert out["comparable"] is False
    assert any("annotator differs" in w for w in out["warnings"])


@pytest.mark.parametrize("mutate, field", [
    (lambda b: b["baseline_outputs"][3].pop("output"), "baseline_outputs.3.output"),
    (lambda b: b["candidate_annotations"][5].__setitem__("preference", 2.7), "candidate_annotations.5.preference"),
    (lambda b: b["candidate_annotations"][5].__setitem__("preference", "much"), "candidate_annotations.5.preference"),
    (lambda b: b["baseline_outputs"][7].__setitem__("generator", "other"), "baseline_outputs"),
    (lambda b: [r.__setitem__("instruction", r["instruction"] + "!") for r in b["candidate_outputs"]],
     "candidate_outputs"),
])
def test_alpaca_eval_bad_files_are_422_naming_the_field(client, mutate, field):
    body = _alpaca_body()
    mutate(body)
    r = client.post("/v1/imports/alpaca-eval", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == field


def test_missing_preferences_are_counted_and_left_out(client):
    body = _alpaca_body()
    body["candidate_annotations"][0]["preference"] = None
    arm = client.post("/v1/imports/alpaca-eval", json=body).json()["annotations"]["phi-2-sft"]
    assert arm["n_missing"] == 1 and arm["n_total"] == 804
    prefs = [float(r["preference"]) for r in body["candidate_annotations"][1:]]
    assert arm["win_rate"] == pytest.approx(100 * (sum(prefs) / len(prefs) - 1))


def _mt_body(**extra) -> dict:
    return {"questions": read_records(MT / "question.jsonl"), "baseline_answers": read_records(OPUS),
            "candidate_answers": read_records(SONNET)} | extra


def test_mt_bench_reproduces_show_result_single_scores(client):
    r = client.post("/v1/imports/mt-bench", json=_mt_body(single_judgments=read_records(SINGLE)))
    assert r.status_code == 200, r.text
    body = r.json()
    scores = {s["model"]: s for s in body["single_scores"]}
    # shared/data/README.md: FastChat's show_result.py on this file.
    assert scores["claude-3-5-sonnet-20240620"]["average"] == pytest.approx(9.20625, abs=1e-12)
    assert scores["claude-3-5-sonnet-20240620"]["by_turn"] == {"1": pytest.approx(9.2375), "2": pytest.approx(9.175)}
    assert scores["claude-3-opus-20240229"]["average"] == pytest.approx(8.675, abs=1e-12)
    assert scores["claude-3-opus-20240229"]["by_turn"] == {"1": pytest.approx(9.04375), "2": pytest.approx(8.30625)}
    assert [s["model"] for s in body["single_scores"]][0] == "claude-3-5-sonnet-20240620"
    # Questions 1-80 are in question.jsonl but these answers cover 81-160: 80 answered × 2 turns.
    assert len(body["items"]) == 160
    t2 = next(i for i in body["items"] if i["id"] == "mt-81-t2")
    question = next(q for q in read_records(MT / "question.jsonl") if q["question_id"] == 81)
    opus = next(a for a in read_records(OPUS) if a["question_id"] == 81)["choices"][0]["turns"]
    sonnet = next(a for a in read_records(SONNET) if a["question_id"] == 81)["choices"][0]["turns"]
    # Turn 2: the shared user turns as messages, each system's own first answer in its history, and
    # the output under judgment is that system's second answer alone (nothing flattened).
    assert t2["prompt"] is None
    assert t2["messages"] == [{"role": "user", "content": question["turns"][0]},
                              {"role": "user", "content": question["turns"][1]}]
    assert t2["histories"] == {"claude-3-opus-20240229": [opus[0]], "claude-3-5-sonnet-20240620": [sonnet[0]]}
    assert t2["outputs"] == {"claude-3-opus-20240229": opus[1], "claude-3-5-sonnet-20240620": sonnet[1]}
    t1 = next(i for i in body["items"] if i["id"] == "mt-81-t1")
    assert (t1["prompt"], t1["messages"], t1["histories"]) == (question["turns"][0], None, None)
    # The single judgments ride on the items as the external judge gpt-4 (FastChat's judge field).
    single = {(r["question_id"], r["turn"], r["model"]): r["score"] for r in read_records(SINGLE)}
    assert t2["external_judgments"]["gpt-4"]["scores"] == {
        m: single[(81, 2, m)] for m in ("claude-3-opus-20240229", "claude-3-5-sonnet-20240620")}


def test_unparseable_single_scores_are_left_out_like_fastchat(client):
    rows = read_records(SINGLE)
    rows[0]["score"] = -1
    body = client.post("/v1/imports/mt-bench", json=_mt_body(single_judgments=rows)).json()
    model = rows[0]["model"]
    expected = [r["score"] for r in rows if r["model"] == model and r["score"] != -1]
    got = next(s for s in body["single_scores"] if s["model"] == model)
    assert got["n_unparseable"] == 1 and got["n"] == 159
    assert got["average"] == pytest.approx(sum(expected) / len(expected))


def _pair_fixture() -> list[dict]:
    """A pairwise judgment file built from the real single judgments (no real pair file is in shared/):
    g1 prefers the higher-scored answer; every fifth item the swapped order (g2) says tie, every
    seventh it disagrees, and one row is an error."""
    scores: dict[tuple[int, int], dict[str, float]] = {}
    for r in read_records(SINGLE):
        scores.setdefault((r["question_id"], r["turn"]), {})[r["model"]] = r["score"]
    m1, m2 = "claude-3-opus-20240229", "claude-3-5-sonnet-20240620"
    rows = []
    for n, ((qid, turn), s) in enumerate(sorted(scores.items())):
        g1 = "model_1" if s[m1] > s[m2] else "model_2" if s[m2] > s[m1] else "tie"
        g2 = "tie" if n % 5 == 0 else ({"model_1": "model_2", "model_2": "model_1", "tie": "model_1"}[g1]
                                       if n % 7 == 0 else g1)
        rows.append({"question_id": qid, "model_1": m1, "model_2": m2, "turn": turn, "g1_winner": g1, "g2_winner": g2})
    rows[3]["g1_winner"] = "error"
    return rows


def test_mt_bench_pairwise_win_rate_adjusted_by_hand(client):
    rows = _pair_fixture()
    body = client.post("/v1/imports/mt-bench", json=_mt_body(pair_judgments=rows,
                                                              pair_baseline="claude-3-opus-20240229")).json()
    # By hand: an error row is dropped; a row counts for model_2 only when both orders say model_2.
    kept = [r for r in rows if "error" not in (r["g1_winner"], r["g2_winner"])]
    outcome = Counter("win" if r["g1_winner"] == r["g2_winner"] == "model_2" else
                      "loss" if r["g1_winner"] == r["g2_winner"] == "model_1" else "tie" for r in kept)
    assert len(kept) == 159
    [row] = body["pairwise"]
    assert row["model"] == "claude-3-5-sonnet-20240620"
    assert (row["win"], row["loss"], row["tie"]) == (outcome["win"], outcome["loss"], outcome["tie"])
    assert row["win_rate_adjusted"] == pytest.approx((outcome["win"] + outcome["tie"] / 2) / 159)
    assert outcome["tie"] > 30 and outcome["win"] > 0 and outcome["loss"] > 0  # the fixture exercises every branch
    # The external judge's consistency, by hand: the kept rows whose two games agree.
    agree = sum(r["g1_winner"] == r["g2_winner"] for r in kept)
    assert body["pair_consistency"] == {"n": 159, "consistent": agree, "errors": 1, "rate": pytest.approx(agree / 159)}


def test_mt_bench_bad_input_names_the_field(client):
    rows = _pair_fixture()
    rows[2]["g2_winner"] = "model_3"
    r = client.post("/v1/imports/mt-bench", json=_mt_body(pair_judgments=rows))
    assert r.status_code == 422 and r.json()["error"]["field"] == "pair_judgments.2.g2_winner"
    r = client.post("/v1/imports/mt-bench", json=_mt_body(baseline_answers=[{"question_id": "81", "choices": []}]))
    assert r.status_code == 422 and r.json()["error"]["field"] == "baseline_answers.0.question_id"
    r = client.post("/v1/imports/mt-bench", json=_mt_body(turns=[3]))
    assert r.status_code == 422 and r.json()["error"]["field"] == "turns"
    r = client.post("/v1/imports/mt-bench", json=_mt_body(candidate_answers=read_records(OPUS)))
    assert r.status_code == 422 and r.json()["error"]["field"] == "candidate_name"


def test_client_imports_real_files_and_the_items_run(make_settings):
    """The client reads the files (xz included), and the imported items are a valid run."""
    with serve(create_app(make_settings())) as url, JudgeClient(url) as c:
        imported = c.import_alpaca_eval(PHI2_OUT, SFT_OUT, baseline_annotations=PHI2_ANN,
                                        candidate_annotations=SFT_ANN, baseline_name="base", candidate_name="sft")
        assert imported.annotations["sft"].win_rate == pytest.approx(PUBLISHED["phi-2-sft"]["win_rate"])
        mt = c.import_mt_bench(MT / "question.jsonl", OPUS, SONNET, single_judgments=SINGLE, turns=[1])
        assert len(mt.items) == 80 and all(i.id.endswith("-t1") for i in mt.items)
        created = c.create_run([i.model_dump() for i in imported.items[:12]], baseline="base", candidate="sft",
                               rubric="helpfulness", judges=["longer"])
        status = c.wait_for_run(created.id, timeout=60)
        assert status.status == "done"
        report = c.run_report(created.id)
        assert report.n_items == 12


def test_cli_import_writes_items_that_run_create_accepts(tmp_path, monkeypatch):
    monkeypatch.setenv("JUDGE_CONFIG", str(write_config(tmp_path / "judges.yaml", SCRIPTED_JUDGES)))
    monkeypatch.setenv("JUDGE_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    items = tmp_path / "items.jsonl"
    res = runner.invoke(cli, ["import", "alpaca-eval", "--local", str(ALPACA / "phi-2"), str(ALPACA / "phi-2-sft"),
                              "--baseline-name", "base", "--candidate-name", "sft", "--items-out", str(items),
                              "--json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["annotations"]["base"]["n_draws"] == 3 and out["comparable"] is True
    lines = [json.loads(line) for line in items.read_text().splitlines()]
    assert len(lines) == 803 and set(lines[0]["outputs"]) == {"base", "sft"}
    res = runner.invoke(cli, ["import", "mt-bench", "--local", "--questions", str(MT / "question.jsonl"), str(OPUS),
                              str(SONNET), "--single-judgments", str(SINGLE)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "9.20625" in res.output and "8.67500" in res.output
    assert "160 item(s) carry gpt-4's verdicts" in res.output and "'external:gpt-4'" in res.output
    res = runner.invoke(cli, ["import", "alpaca-eval", "--local", str(MT), str(ALPACA / "phi-2")])
    assert res.exit_code != 0 and "model_outputs.json" in res.output
