"""The issue's end-to-end check: one evaluation built from real files in ../shared/data and a judge
run on the fake judge server (a real OpenAI-compatible socket), every layer run by the service
from one request (server-side orchestration), each layer's verdict and the summary checked.

- judge: real AlpacaEval outputs (phi-2 base vs phi-2 SFT), imported, judged by the fake server
  with a known taste (more distinct words wins): the wins are counted by hand from the outputs.
- benchmarks: real lm-eval results (nl2foam: the SFT checkpoint against Qwen3-8B).
- training: a real trainer_state.json whose eval loss rises from its first eval (overfitting).
- perplexity: real MT-Bench reference answers scored through remote prompt logprobs (the same
  fake completions server for both models, so no difference can be claimed).
- task metrics: token F1 of both arms against GPT-4's outputs from the real annotations.
"""

from __future__ import annotations

import json
import time

import pytest

from benchmarks_fixtures import NL2FOAM, QWEN, SFT
from conftest import SHARED_DATA
from judge_client._imports import read_records
from judge_service.testing.fake_server import FakeJudgeServer
from judge_service.testing.policies import prefer_by
from test_perplexity import FakeCompletionsServer

ALPACA = SHARED_DATA / "alpaca_eval" / "results"
MERLIN = SHARED_DATA / "training_logs" / "Merlinmy__Whisper_small_hi" / "trainer_state.json"
N = 60


def distinct_words(text: str) -> int:
    """The fake judge's taste: more distinct words wins. Mostly the longer answer, not always (a long
    answer that repeats itself loses), so the run's length-bias check has evidence either way."""
    return len(set(text.lower().split()))


def _wait_evaluation(client, ev_id: str, timeout: float = 90.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ev = client.get(f"/v1/evaluations/{ev_id}").json()
        if ev["status"] == "done":
            return ev
        time.sleep(0.1)
    raise AssertionError(f"evaluation {ev_id} still running: {ev}")


def _expected_verdict(statuses: dict[str, str]) -> str:
    """The documented rule (README, evaluation/summary.py), applied by hand."""
    worse = [k for k, s in statuses.items() if s == "worse"]
    better = [k for k, s in statuses.items() if s == "better"]
    if worse:
        return "mixed" if better else ("worse" if statuses.get("judge") == "worse" else "regression")
    return {"better": "better", "equivalent": "no_difference"}.get(statuses.get("judge", ""), "undetermined")


def test_one_evaluation_from_real_files_and_the_fake_judge_server(make_client):
    with FakeJudgeServer(prefer_by(distinct_words)) as fake, FakeCompletionsServer() as completions:
        client = make_client({"judges": [{"name": "fake-gpt", "provider": "openai_compatible", "model": "fake-judge",
                                          "family": "fake", "base_url": fake.openai_base_url,
                                          "max_concurrency": 16}], "default_panel": ["fake-gpt"]}, log_json=False)
        keep = ("instruction", "output_1", "generator_1", "output_2", "generator_2", "annotator", "preference")
        sft_ann = [{k: r[k] for k in keep} for r in read_records(ALPACA / "phi-2-sft" / "weighted_alpaca_eval_gpt4_turbo"
                                                                  / "annotations.json.xz")]
        imported = client.post("/v1/imports/alpaca-eval", json={
            "baseline_outputs": read_records(ALPACA / "phi-2" / "model_outputs.json"),
            "candidate_outputs": read_records(ALPACA / "phi-2-sft" / "model_outputs.json.xz"),
            "candidate_annotations": sft_ann, "baseline_name": "base", "candidate_name": "tuned"}).json()
        # The import reproduces AlpacaEval's own leaderboard row before anything is re-judged.
        assert imported["annotations"]["tuned"]["win_rate"] == pytest.approx(3.977567775217392, rel=1e-12)
        items = imported["items"][:N]
        gpt4 = {r["instruction"]: r["output_1"] for r in sft_ann}
        eval_items = [{"id": i["id"], "prompt": i["prompt"], "reference": gpt4[i["prompt"]]} for i in items]
        saved = client.post("/v1/eval-sets", json={"name": "alpaca-60", "items": eval_items}).json()
        assert saved["version"] == 1

        def arm(label, names):
            return {"label": label, "files": {n: json.loads((NL2FOAM / n).read_text()) for n in names}}

        bench = client.post("/v1/benchmark-comparisons", json={"base": arm("base", QWEN), "tuned": arm("tuned", SFT)})
        assert bench.status_code == 201, bench.text
        heldout = [t for r in read_records(SHARED_DATA / "mt_bench" / "reference_answer_gpt-4.jsonl")[:8]
                   for t in r["choices"][0]["turns"]]
        r = client.post("/v1/evaluations", json={
            "name": "phi-2-sft", "baseline": "base", "candidate": "tuned",
            "eval_set": {"name": "alpaca-60", "version": 1},
            "layers": {
                "judge": {"run": {"rubric": "helpfulness", "items": [{k: i[k] for k in ("id", "prompt", "outputs")}
                                                                      for i in items]}},
                "training": {"analysis": {"logs": [{"name": "trainer_state.json", "content": MERLIN.read_text()}]}},
                "benchmarks": {"comparison_id": bench.json()["id"]},
                "perplexity": {"request": {"texts": heldout, "base_model": "base", "tuned_model": "tuned",
                                           "base_url": completions.base_url, "n_resamples": 200}},
                "task_metrics": {"request": {"predictions": [i["outputs"]["base"] for i in items],
                                             "references": [e["reference"] for e in eval_items],
                                             "predictions_b": [i["outputs"]["tuned"] for i in items],
                                             "metrics": ["token_f1"], "n_resamples": 500},
                                 "primary": "token_f1"}}})
        assert r.status_code == 201, r.text
        created = r.json()
        assert set(created["references"]) == {"judge", "training", "benchmarks"}
        ev = _wait_evaluation(client, created["id"])
        assert fake.calls == 2 * N  # both orders of every item, each answered by the fake server once

    layers = {layer["layer"]: layer for layer in ev["layers"]}
    assert set(layers) == {"judge", "training", "benchmarks", "perplexity", "task_metrics"}
    # judge: the fake judge's taste in both orders, counted by hand from the outputs.
    taste = [(distinct_words(i["outputs"]["tuned"]), distinct_words(i["outputs"]["base"])) for i in items]
    wins, ties = sum(t > b for t, b in taste), sum(t == b for t, b in taste)
    losses = N - wins - ties
    report = client.get(f"/v1/runs/{ev['references']['judge']}/report").json()
    pairwise = report["pairwise"]
    assert (pairwise["wins"], pairwise["ties"], pairwise["losses"]) == (wins, ties, losses)
    assert wins / N > 0.6 and layers["judge"]["status"] == "better", (layers["judge"], report.get("decision"))
    assert client.get(f"/v1/runs/{ev['references']['judge']}").json()["eval_set"] == {"name": "alpaca-60",
                                                                                    "version": 1}
    # training: eval loss rises from the first eval on (shared/data/README.md): a concern, never a flip.
    assert layers["training"]["status"] == "concern" and "overfitting" in layers["training"]["headline"]
    assert "0.3075 at step 1000" in layers["training"]["headline"]
    # benchmarks: the SFT checkpoint gains on bleu and llm_judge over Qwen3-8B.
    assert layers["benchmarks"]["status"] == "better" and "bleu" in layers["benchmarks"]["headline"]
    # perplexity: both "models" are the same fake server, so the difference is exactly zero.
    assert layers["perplexity"]["status"] == "equivalent" and "+0.000" in layers["perplexity"]["headline"]
    # task metrics: the layer's status follows its own paired CI.
    tm = layers["task_metrics"]
    assert tm["headline"].startswith("token_f1 Δ") and "n = 60" in tm["headline"]
    lo, hi = (float(x) for x in tm["headline"].split("[")[1].split("]")[0].split(","))
    assert tm["status"] == ("better" if lo > 0 else "worse" if hi < 0 else "inconclusive")
    # the summary: the documented rule, every layer named, the concern listed, nothing hidden.
    statuses = {k: v["status"] for k, v in layers.items()}
    assert ev["summary"]["verdict"] == _expected_verdict(statuses)
    for name in layers:
        assert f"{name}:" in ev["summary"]["line"]
    assert any(c.startswith("training:") for c in ev["summary"]["concerns"])
    assert ev["eval_set"]["name"] == "alpaca-60" and ev["eval_set"]["version"] == 1
    page = client.get(ev["report_html_url"]).text
    assert "<svg" in page and "<script" not in page


def test_inline_layers_are_checked_before_anything_runs(client):
    bad = client.post("/v1/evaluations", json={"baseline": "base", "candidate": "tuned", "layers": {
        "judge": {"run": {"rubric": "helpfulness", "items": [{"id": "a", "prompt": "p",
                                                               "outputs": {"base": "x", "tuned": "y"}}]}},
        "benchmarks": {"comparison_id": "bc_nope"}}})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "layers.benchmarks.comparison_id"
    both = client.post("/v1/evaluations", json={"baseline": "base", "candidate": "tuned", "layers": {
        "judge": {"run_id": "run_x", "run": {"rubric": "helpfulness", "items": []}}}})
    assert both.status_code == 422 and both.json()["error"]["field"] == "layers.judge"
    unpaired = client.post("/v1/evaluations", json={"baseline": "base", "candidate": "tuned", "layers": {
        "task_metrics": {"request": {"predictions": ["a"], "references": ["a"]}}}})
    assert unpaired.status_code == 422
    assert unpaired.json()["error"]["field"] == "layers.task_metrics.request.predictions_b"
    one_model = client.post("/v1/evaluations", json={"baseline": "base", "candidate": "tuned", "layers": {
        "perplexity": {"request": {"texts": ["a b c"], "model": "m", "base_url": "http://127.0.0.1:9/v1"}}}})
    assert one_model.status_code == 422
    assert one_model.json()["error"]["field"] == "layers.perplexity.request.base_model"
