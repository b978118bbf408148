"""One evaluation across layers: a real judge run (scripted judges through the runs API), a real
training log from ../shared, and perplexity / task-metric answers; every layer's verdict and the
combined line; eval-set versions compared across evaluations; bad references are 422s."""

from __future__ import annotations

import json

from conftest import SHARED_DATA, wait_done

MERLIN = SHARED_DATA / "training_logs" / "Merlinmy__Whisper_small_hi" / "trainer_state.json"
MT5 = SHARED_DATA / "training_logs" / "NijatZeynalov__mT5-based-azerbaijani-news-summarize" / "trainer_state.json"


def _items(n: int = 16) -> list[dict]:
    return [{"id": f"q{i}", "prompt": f"Question {i}?",
             "outputs": {"base": f"Answer {i}.", "tuned": f"A fuller answer to question {i}, with the detail asked for."}}
            for i in range(n)]


def _run(client, judges=("longer",)) -> str:
    r = client.post("/v1/runs", json={"rubric": "helpfulness", "judges": list(judges), "baseline": "base",
                                      "candidate": "tuned", "items": _items()})
    assert r.status_code == 202, r.text
    run_id = r.json()["id"]
    wait_done(client, run_id)
    return run_id


def _analysis(client, path) -> str:
    r = client.post("/v1/training-logs/analyses", json={"logs": [{"name": path.name, "content": path.read_text()}]})
    assert r.status_code == 201, r.text
    return r.json()["id"]


PPL_UP = {"mode": "compare", "comparison": {"measure": "log_perplexity", "verdict": "tuned has higher perplexity",
                                            "difference": {"estimate": 0.08, "ci_low": 0.03, "ci_high": 0.13, "n": 40}}}
PPL_SAME = {"mode": "compare", "comparison": {"measure": "log_perplexity", "verdict": "no detectable difference",
                                              "difference": {"estimate": 0.01, "ci_low": -0.02, "ci_high": 0.04, "n": 40}}}


def test_layers_and_the_combined_line(client):
    run_id = _run(client)
    report = client.get(f"/v1/runs/{run_id}/report").json()
    analysis = _analysis(client, MERLIN)
    overlap = client.post("/v1/metrics/overlap", json={
        "predictions": [f"answer {i}" for i in range(12)], "references": [f"the answer is {i}" for i in range(12)],
        "predictions_b": [f"the answer is {i}" for i in range(12)], "metrics": ["token_f1"]}).json()
    r = client.post("/v1/evaluations", json={
        "baseline": "base", "candidate": "tuned", "name": "sft-v1",
        "layers": {"judge": {"run_id": run_id}, "training": {"analysis_id": analysis},
                   "perplexity": {"result": PPL_SAME}, "task_metrics": {"result": overlap}}})
    assert r.status_code == 201, r.text
    ev = r.json()
    layers = {l["layer"]: l for l in ev["layers"]}
    # The scripted 'longer' judge prefers the longer (tuned) answer on every item: the run's own verdict
    # decides the judge layer, whatever it is, and the evaluation repeats it.
    expected_judge = ("better" if report["verdict"].startswith("candidate beats") else
                      "worse" if report["verdict"].startswith("baseline beats") else
                      "inconclusive" if report["verdict"].startswith("no detectable") else "cannot_judge")
    assert layers["judge"]["status"] == expected_judge
    assert layers["training"]["status"] == "concern" and "overfitting" in layers["training"]["headline"]
    assert layers["perplexity"]["status"] == "equivalent"
    assert layers["task_metrics"]["status"] == "better" and "token_f1" in layers["task_metrics"]["headline"]
    assert ev["status"] == "done" and ev["references"] == {"judge": run_id, "training": analysis}
    for name in layers:  # the summary never hides a layer
        assert f"{name}:" in ev["summary"]["line"]
    assert any("training:" in c for c in ev["summary"]["concerns"])
    assert client.get(f"/v1/evaluations/{ev['id']}").json()["summary"] == ev["summary"]
    page = client.get(ev["report_html_url"])
    assert page.headers["content-type"].startswith("text/html")
    assert "<svg" in page.text and "<script" not in page.text and "http" not in page.text.split("<svg", 1)[0]


def test_a_failing_layer_is_the_headline(client):
    analysis = _analysis(client, MT5)
    r = client.post("/v1/evaluations", json={
        "baseline": "base", "candidate": "tuned",
        "layers": {"training": {"analysis_id": analysis}, "perplexity": {"result": PPL_UP}}})
    ev = r.json()
    assert ev["summary"]["verdict"] == "regression"
    assert ev["summary"]["line"].startswith("candidate regresses")
    assert "perplexity went up" in ev["summary"]["line"]
    assert ev["summary"]["missing"] == ["judge"]


def test_eval_set_versions_across_evaluations(client):
    items = [{"id": f"q{i}", "prompt": f"Question {i}?"} for i in range(10)]
    client.post("/v1/eval-sets", json={"name": "qa", "items": items})
    client.post("/v1/eval-sets", json={"name": "qa", "items": items[1:] + [{"id": "new", "prompt": "New?"}]})
    body = {"baseline": "base", "candidate": "tuned", "layers": {"perplexity": {"result": PPL_SAME}}}
    a = client.post("/v1/evaluations", json=body | {"eval_set": {"name": "qa", "version": 1}}).json()
    b = client.post("/v1/evaluations", json=body | {"eval_set": {"name": "qa", "version": 2}}).json()
    c = client.post("/v1/evaluations", json=body | {"eval_set": {"name": "qa", "version": 2}}).json()
    cmp = client.get(f"/v1/evaluations/{a['id']}/compare/{b['id']}").json()
    assert cmp["comparable"] is False and cmp["added"] == ["new"] and cmp["removed"] == ["q0"]
    assert "re-run the older model on v2" in cmp["warnings"][0]
    same = client.get(f"/v1/evaluations/{b['id']}/compare/{c['id']}").json()
    assert same["comparable"] is True and same["warnings"] == []


def test_bad_references_are_422_naming_the_field(client):
    base = {"baseline": "base", "candidate": "tuned"}
    cases = [
        ({"layers": {"judge": {"run_id": "run_nope"}}}, "layers.judge.run_id"),
        ({"layers": {"training": {"analysis_id": "tla_nope"}}}, "layers.training.analysis_id"),
        ({"layers": {}}, "layers"),
        ({"layers": {"perplexity": {"result": PPL_SAME}}, "eval_set": {"name": "absent", "version": 1}}, "eval_set"),
        ({"layers": {"perplexity": {"result": PPL_SAME}}, "candidate": "base"}, "candidate"),
    ]
    for extra, field in cases:
        r = client.post("/v1/evaluations", json=base | extra)
        assert r.status_code == 422 and r.json()["error"]["field"] == field, (field, r.text)
    run_id = _run(client)
    r = client.post("/v1/evaluations", json={"baseline": "tuned", "candidate": "base",
                                             "layers": {"judge": {"run_id": run_id}}})
    assert r.status_code == 422 and "compares 'base' with 'tuned'" in r.json()["error"]["message"]
    assert client.get("/v1/evaluations/eval_nope").status_code == 404


def test_judge_layer_reads_the_run_verdict():
    from judge_service.evaluation.adapters import judge_layer

    headline = {"estimate": 0.61, "ci_low": 0.55, "ci_high": 0.67, "n": 200}
    cases = {"candidate beats baseline: LC win rate 0.61 [0.55, 0.67], p < 0.001, n = 200": "better",
             "baseline beats candidate: LC win rate 0.39 [0.33, 0.45], p < 0.001, n = 200": "worse",
             "no detectable difference at n = 200 (±0.05)": "inconclusive",
             "undetermined at n = 10: the judge preferred the longer answer on every item": "cannot_judge"}
    for verdict, status in cases.items():
        layer = judge_layer({"verdict": verdict, "headline_metric": "LC win rate", "headline": headline, "complete": True})
        assert layer.status == status
        assert layer.headline == "LC win rate 0.61 [0.55, 0.67], n = 200"
    # The report's decision (issue 14's rule), when present, is what decides.
    decided = judge_layer({"verdict": "undetermined at n = 10: …", "headline": headline, "complete": True,
                           "decision": {"outcome": "baseline_beats", "rule": "…", "checks": []}})
    assert decided.status == "worse"
    pending = judge_layer({"verdict": "…", "complete": False, "progress": {"done": 3, "total": 10}})
    assert pending.status == "cannot_judge" and "3 of 10" in (pending.reason or "")


def test_cli_evaluate_yaml_and_client(tmp_path, monkeypatch, make_settings):
    from typer.testing import CliRunner

    import yaml

    from conftest import SCRIPTED_JUDGES, write_config
    from judge_client import JudgeClient
    from judge_service.app import create_app
    from judge_service.cli import app as cli
    from test_client import serve

    (tmp_path / "outputs.jsonl").write_text("".join(json.dumps(i) + "\n" for i in _items()))
    (tmp_path / "items.jsonl").write_text("".join(json.dumps({"id": i["id"], "prompt": i["prompt"]}) + "\n"
                                                  for i in _items()))
    (tmp_path / "refs.jsonl").write_text("".join(json.dumps(f"the answer is {i}") + "\n" for i in range(12)))
    (tmp_path / "base.jsonl").write_text("".join(json.dumps(f"answer {i}") + "\n" for i in range(12)))
    (tmp_path / "tuned.jsonl").write_text("".join(json.dumps(f"the answer is {i}") + "\n" for i in range(12)))
    spec = {"name": "sft-v1", "baseline": "base", "candidate": "tuned",
            "eval_set": {"name": "qa", "items": "items.jsonl", "note": "16 prompts"},
            "judge": {"items": "outputs.jsonl", "rubric": "helpfulness", "judges": ["longer"]},
            "training": {"logs": [str(MERLIN.parent)]},
            "task_metrics": {"references": "refs.jsonl", "baseline_predictions": "base.jsonl",
                             "candidate_predictions": "tuned.jsonl", "metrics": ["token_f1"], "primary": "token_f1"}}
    from benchmarks_fixtures import QWEN, SFT, nl2foam_arm

    spec["benchmarks"] = {"base": str(nl2foam_arm(tmp_path / "qwen", *QWEN)), "tuned": str(nl2foam_arm(tmp_path / "sft", *SFT))}
    (tmp_path / "eval.yaml").write_text(yaml.safe_dump(spec))
    monkeypatch.setenv("JUDGE_CONFIG", str(write_config(tmp_path / "judges.yaml", SCRIPTED_JUDGES)))
    monkeypatch.setenv("JUDGE_DATA_DIR", str(tmp_path / "data"))
    html = tmp_path / "report.html"
    res = CliRunner().invoke(cli, ["evaluate", "--local", str(tmp_path / "eval.yaml"), "--html", str(html), "--json"])
    assert "{" in res.output, (res.output, res.exception)
    ev = json.loads(res.output[res.output.index("{"):])
    assert res.exit_code == {"better": 0, "no_difference": 0, "undetermined": 5}.get(ev["summary"]["verdict"], 3), res.output
    assert {l["layer"] for l in ev["layers"]} == {"judge", "benchmarks", "training", "task_metrics"}
    assert ev["eval_set"]["name"] == "qa" and ev["eval_set"]["version"] == 1
    assert "<svg" in html.read_text() and "Did tuned beat base?" in html.read_text()
    with serve(create_app(make_settings())) as url, JudgeClient(url) as c:
        created = c.evaluate_finetune(baseline="base", candidate="tuned", perplexity=PPL_UP)
        assert created.summary.verdict == "regression" and c.get_evaluation(created.id).layers[0].status == "worse"


def test_real_benchmark_files_as_a_layer(client):
    """nl2foam (../shared/data/lm_eval): the SFT checkpoint against Qwen3-8B gains on bleu and llm_judge,
    so the layer says better; the same files the other way round are a regression the summary leads with."""
    from benchmarks_fixtures import NL2FOAM, QWEN, SFT

    def arm(label, names):
        return {"label": label, "files": {n: json.loads((NL2FOAM / n).read_text()) for n in names}}

    forward = client.post("/v1/benchmark-comparisons", json={"base": arm("base", QWEN), "tuned": arm("tuned", SFT)})
    backward = client.post("/v1/benchmark-comparisons", json={"base": arm("base", SFT), "tuned": arm("tuned", QWEN)})
    assert forward.status_code == backward.status_code == 201, forward.text
    rows = {r["metric"]: r["status"] for r in forward.json()["comparisons"][0]["rows"]}
    run_id = _run(client)
    analysis = _analysis(client, MT5)
    ev = client.post("/v1/evaluations", json={"baseline": "base", "candidate": "tuned", "layers": {
        "benchmarks": {"comparison_id": forward.json()["id"]}, "training": {"analysis_id": analysis},
        "judge": {"run_id": run_id}}}).json()
    bench = next(l for l in ev["layers"] if l["layer"] == "benchmarks")
    assert rows["bleu"] == "improved" and bench["status"] == "better" and "bleu" in bench["headline"]
    ev = client.post("/v1/evaluations", json={"baseline": "base", "candidate": "tuned", "layers": {
        "benchmarks": {"comparison_id": backward.json()["id"]}, "judge": {"run_id": run_id}}}).json()
    bench = next(l for l in ev["layers"] if l["layer"] == "benchmarks")
    assert bench["status"] == "worse" and ev["summary"]["verdict"] in ("mixed", "regression")
    assert "benchmarks:" in ev["summary"]["line"] and "a regression" in ev["summary"]["line"]
    r = client.post("/v1/evaluations", json={"baseline": "base", "candidate": "tuned",
                                             "layers": {"benchmarks": {"comparison_id": "bc_nope"}}})
    assert r.status_code == 422 and r.json()["error"]["field"] == "layers.benchmarks.comparison_id"


def test_overlap_layer_from_regurgitation_and_contamination(client):
    from test_memorization_api import training_lines
    from test_memorization_core import sentence
    import random

    records = training_lines()
    index = client.post("/v1/overlap-indexes", json={"records": records}).json()
    rng = random.Random(3)
    copied = [records[i]["messages"][1]["content"] for i in range(8)]
    outputs = [{"id": f"o{i}", "output": "Sure. " + copied[i], "prompt": "q", "base_output": sentence(rng, 60)}
               for i in range(8)]
    outputs += [{"id": f"n{i}", "output": sentence(rng, 60), "prompt": "q", "base_output": sentence(rng, 60)}
                for i in range(12)]
    reg = client.post("/v1/regurgitation", json={"index_id": index["id"], "outputs": outputs}).json()
    items = [{"id": f"q{i}", "text": copied[i], "outcome": 1.0} for i in range(3)]
    items += [{"id": f"c{i}", "text": sentence(rng, 30), "outcome": float(i % 2)} for i in range(6)]
    con = client.post("/v1/contamination", json={"index_id": index["id"], "items": items, "n_resamples": 200}).json()
    ev = client.post("/v1/evaluations", json={"baseline": "base", "candidate": "tuned", "layers": {
        "overlap": {"regurgitation_id": reg["id"], "contamination_id": con["id"]},
        "perplexity": {"result": PPL_SAME}}}).json()
    [layer] = [l for l in ev["layers"] if l["layer"] == "overlap"]
    assert layer["status"] == "concern"
    assert "40.0% of answers copy training text (n = 20)" in layer["headline"]  # 8 of 20, by construction
    assert "3 of 9 eval items found in the training set" in layer["headline"]
    assert "more often than the base" in layer["reason"]
    r = client.post("/v1/evaluations", json={"baseline": "base", "candidate": "tuned",
                                             "layers": {"overlap": {"regurgitation_id": "nope"}}})
    assert r.status_code == 422 and r.json()["error"]["field"] == "layers.overlap.regurgitation_id"
