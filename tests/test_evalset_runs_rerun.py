"""Eval-set versions as a run's and an evaluation's ground: an eval set is checked against a
training-data index on upload (MT-Bench questions planted in a training file of real AlpacaEval
outputs are flagged, nothing else is); a run names its version and is refused items that are not
in it; an older evaluation is re-run on the new version in one call (unchanged items reuse their
outputs, new and changed ones need them); the comparison across versions warns with the diff.
Through HTTP, the Python client and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from typer.testing import CliRunner

from conftest import SHARED_DATA, SCRIPTED_JUDGES, wait_done, write_config
from judge_client import JudgeClient
from judge_client._imports import read_records
from judge_service.app import create_app
from judge_service.cli import app as cli
from test_client import serve

MT = SHARED_DATA / "mt_bench"
PLANTED = (4, 9, 15)  # eval items (q4, q9, q15) copied into the training set


def _questions(n: int = 20) -> list[dict]:
    """The first n MT-Bench questions' first turns, as q1..qn."""
    return [{"id": f"q{k + 1}", "prompt": q["turns"][0]} for k, q in enumerate(read_records(MT / "question.jsonl")[:n])]


def _training_records() -> list[dict]:
    outputs = read_records(SHARED_DATA / "alpaca_eval" / "results" / "phi-2" / "model_outputs.json")[:40]
    records = [{"id": f"t{i}", "output": r["output"]} for i, r in enumerate(outputs) if len(r["output"].split()) > 20]
    questions = {q["id"]: q["prompt"] for q in _questions()}
    records += [{"id": f"leak{q}", "output": "Training example. " + questions[f"q{q}"]} for q in PLANTED]
    return records


def _outputs(item: dict, tuned: str = "tuned") -> dict:
    return {"base": f"Short answer to {item['id']}.",
            tuned: f"A longer and more careful answer to {item['id']}, with the steps and a worked example."}


def _index(client) -> str:
    r = client.post("/v1/overlap-indexes", json={"records": _training_records(), "name": "sft-train"})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_eval_set_is_checked_against_the_training_index_on_upload(client):
    index_id = _index(client)
    r = client.post("/v1/eval-sets", json={"name": "mt", "items": _questions(), "overlap_index_id": index_id})
    assert r.status_code == 201, r.text
    c = r.json()["contamination"]
    assert c["flagged"] == [f"q{q}" for q in PLANTED] and c["contaminated"] == 3 and c["n"] == 20
    assert "3 of 20 item(s) appear in the training data" in c["warning"]
    report = client.get(f"/v1/contamination/{c['report_id']}").json()
    assert {i["id"] for i in report["items"] if i["contaminated"]} == {f"q{q}" for q in PLANTED}
    # Without an index nothing is checked; an unknown index is a 422 and mints no version.
    assert client.post("/v1/eval-sets", json={"name": "mt", "items": _questions()}).json()["contamination"] is None
    r = client.post("/v1/eval-sets", json={"name": "other", "items": _questions(), "overlap_index_id": "oix_nope"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "overlap_index_id"
    assert client.get("/v1/eval-sets/other").status_code == 404


def _run(client, items, version: int, tuned: str = "tuned") -> str:
    r = client.post("/v1/runs", json={"rubric": "helpfulness", "judges": ["longer"], "baseline": "base",
                                      "candidate": tuned, "eval_set": {"name": "mt", "version": version},
                                      "items": [i | {"outputs": _outputs(i, tuned)} for i in items]})
    assert r.status_code == 202, r.text
    wait_done(client, r.json()["id"])
    return r.json()["id"]


def test_runs_name_their_version_and_rerun_on_the_next_is_one_call(client):
    v1 = _questions()
    assert client.post("/v1/eval-sets", json={"name": "mt", "items": v1}).json()["version"] == 1
    run_id = _run(client, v1, 1)
    assert client.get(f"/v1/runs/{run_id}").json()["eval_set"] == {"name": "mt", "version": 1}
    # Items that are not the version's are refused, naming the item.
    stray = [i | {"outputs": _outputs(i)} for i in v1[:3]] + [{"id": "q999", "prompt": "new?", "outputs": _outputs({"id": "q999"})}]
    r = client.post("/v1/runs", json={"rubric": "helpfulness", "baseline": "base", "candidate": "tuned",
                                      "eval_set": {"name": "mt", "version": 1}, "items": stray})
    assert r.status_code == 422 and r.json()["error"]["field"] == "items.3.id"
    edited = [dict(i) for i in v1[:2]]
    edited[1]["prompt"] += " (edited)"
    r = client.post("/v1/runs", json={"rubric": "helpfulness", "baseline": "base", "candidate": "tuned",
                                      "eval_set": {"name": "mt", "version": 1},
                                      "items": [i | {"outputs": _outputs(i)} for i in edited]})
    assert r.status_code == 422 and "differs" in r.json()["error"]["message"]
    # The evaluation takes the run's version.
    ev = client.post("/v1/evaluations", json={"baseline": "base", "candidate": "tuned", "name": "sft-v1",
                                              "layers": {"judge": {"run_id": run_id}}}).json()
    assert ev["eval_set"]["version"] == 1

    v2 = [dict(i) for i in v1 if i["id"] != "q3"]
    v2[0]["prompt"] = v2[0]["prompt"] + " Answer in one paragraph."  # q1 changed
    v2.append({"id": "q21", "prompt": read_records(MT / "question.jsonl")[20]["turns"][0]})
    assert client.post("/v1/eval-sets", json={"name": "mt", "items": v2}).json()["version"] == 2
    # A newer rubric version since the first run: the re-run still judges under the old run's version.
    rubric = yaml.safe_load((Path(__file__).resolve().parents[1] / "rubrics" / "helpfulness" / "v1.yaml").read_text())
    newer = rubric | {"version": 2, "instructions": rubric["instructions"] + " Be strict."}
    assert client.post("/v1/rubrics", json=newer).status_code == 201
    r = client.post(f"/v1/evaluations/{ev['id']}/rerun", json={})
    assert r.status_code == 422 and r.json()["error"]["field"] == "outputs"
    assert "q1, q21" in r.json()["error"]["message"]
    fresh = [{"id": i, "outputs": _outputs({"id": i})} for i in ("q1", "q21")]
    r = client.post(f"/v1/evaluations/{ev['id']}/rerun", json={"outputs": fresh})
    assert r.status_code == 201, r.text
    rerun = r.json()
    assert rerun["eval_set"] == {"name": "mt", "version": 2}
    assert rerun["supplied"] == ["q1", "q21"] and rerun["dropped"] == ["q3"] and len(rerun["reused"]) == 18
    assert client.get(f"/v1/runs/{rerun['run_id']}").json()["rubric"] == client.get(f"/v1/runs/{run_id}").json()["rubric"]
    assert client.get(f"/v1/runs/{run_id}").json()["rubric"]["version"] == 1
    assert wait_done(client, rerun["run_id"])["status"] == "done"
    new_items = {i["id"] for i in client.get(f"/v1/runs/{rerun['run_id']}/items").json()}
    assert new_items == {i["id"] for i in v2}
    new = client.get(f"/v1/evaluations/{rerun['evaluation']['id']}").json()
    assert new["status"] == "done" and new["eval_set"]["version"] == 2 and new["name"] == "sft-v1 @v2"
    assert {l["layer"] for l in new["layers"]} == {"judge"}
    # Across versions: not comparable, with the diff; the re-run and a new model on v2 are comparable.
    cmp = client.get(f"/v1/evaluations/{ev['id']}/compare/{new['id']}").json()
    assert cmp["comparable"] is False and cmp["added"] == ["q21"] and cmp["removed"] == ["q3"]
    assert cmp["changed"] == ["q1"] and "re-run the older model on v2" in cmp["warnings"][0]
    other = _run(client, v2, 2)
    ev2 = client.post("/v1/evaluations", json={"baseline": "base", "candidate": "tuned",
                                               "layers": {"judge": {"run_id": other}}}).json()
    assert client.get(f"/v1/evaluations/{new['id']}/compare/{ev2['id']}").json()["comparable"] is True
    # Refusals name the field.
    r = client.post(f"/v1/evaluations/{new['id']}/rerun", json={})
    assert r.status_code == 422 and r.json()["error"]["field"] == "eval_set_version"
    r = client.post(f"/v1/evaluations/{ev['id']}/rerun", json={"outputs": [{"id": "q1", "outputs": {"base": "x"}}]})
    assert r.status_code == 422 and r.json()["error"]["field"] == "outputs.0.outputs"
    r = client.post(f"/v1/evaluations/{ev['id']}/rerun", json={"outputs": [{"id": "zz", "outputs": {}}]})
    assert r.status_code == 422 and r.json()["error"]["field"] == "outputs.0.id"


def test_client_and_cli(make_settings, tmp_path, monkeypatch):
    v1 = _questions(8)
    with serve(create_app(make_settings())) as url, JudgeClient(url) as c:
        index_id = c.create_overlap_index(records=_training_records()).id
        saved = c.save_eval_set("mt", v1, overlap_index_id=index_id)
        assert saved.contamination is not None and saved.contamination.flagged == ["q4"]
        run = c.create_run([i | {"outputs": _outputs(i)} for i in v1], baseline="base", candidate="tuned",
                           rubric="helpfulness", judges=["longer"], eval_set={"name": "mt", "version": 1})
        c.wait_for_run(run.id, timeout=60)
        ev = c.evaluate_finetune(baseline="base", candidate="tuned", run_id=run.id)
        assert ev.eval_set is not None and ev.eval_set.version == 1
        c.save_eval_set("mt", v1[:-1])  # v2 drops q8
        rerun = c.rerun_evaluation(ev.id)
        assert rerun.dropped == ["q8"] and rerun.supplied == [] and len(rerun.reused) == 7
        c.wait_for_run(rerun.run_id, timeout=60)
        cmp = c.compare_evaluations(ev.id, rerun.evaluation.id)
        assert not cmp.comparable and cmp.removed == ["q8"]

    monkeypatch.setenv("JUDGE_CONFIG", str(write_config(tmp_path / "judges.yaml", SCRIPTED_JUDGES)))
    monkeypatch.setenv("JUDGE_DATA_DIR", str(tmp_path / "cli-data"))
    runner = CliRunner()
    train = tmp_path / "train.jsonl"
    train.write_text("".join(json.dumps(r) + "\n" for r in _training_records()))
    res = runner.invoke(cli, ["overlap", "index", "--local", str(train), "--json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    index_id = json.loads(res.output[res.output.index("{"):])["id"]
    items = tmp_path / "v1.jsonl"
    items.write_text("".join(json.dumps(i) + "\n" for i in v1))
    res = runner.invoke(cli, ["eval-set", "save", "--local", "mt", str(items), "--overlap-index", index_id],
                        catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "1 of 8 item(s) found in the training data: q4" in res.output
    spec = tmp_path / "eval.yaml"
    outputs = tmp_path / "outputs.jsonl"
    outputs.write_text("".join(json.dumps(i | {"outputs": _outputs(i)}) + "\n" for i in v1))
    spec.write_text("baseline: base\ncandidate: tuned\n"
                    "eval_set: {name: mt, items: v1.jsonl}\n"
                    "judge: {items: outputs.jsonl, rubric: helpfulness, judges: [longer]}\n")
    res = runner.invoke(cli, ["evaluate", "--local", str(spec), "--json"], catch_exceptions=False)
    assert res.exit_code in (0, 5), res.output  # 8 items: the judge layer may not be able to decide (5)
    old_id = json.loads(res.output[res.output.index("{\n"):])["id"]
    v2 = [dict(i) for i in v1] + [{"id": "q9", "prompt": read_records(MT / "question.jsonl")[8]["turns"][0]}]
    items.write_text("".join(json.dumps(i) + "\n" for i in v2))
    assert runner.invoke(cli, ["eval-set", "save", "--local", "mt", str(items)]).exit_code == 0
    new_out = tmp_path / "new.jsonl"
    new_out.write_text(json.dumps({"id": "q9", "outputs": _outputs({"id": "q9"})}) + "\n")
    res = runner.invoke(cli, ["evaluation", "rerun", "--local", old_id, "--outputs", str(new_out)],
                        catch_exceptions=False)
    assert res.exit_code in (0, 5), res.output
    assert "on mt v2" in res.output and "8 item(s) reused, 1 new or changed, 0 dropped" in res.output
    new_id = res.output.split()[0]
    res = runner.invoke(cli, ["evaluation", "compare", "--local", old_id, new_id])
    assert res.exit_code == 3 and "comparable: no" in res.output and "added: q9" in res.output


def test_async_client_has_the_new_calls(make_settings, tmp_path):
    import asyncio

    from judge_client import AsyncJudgeClient

    v1 = _questions(6)

    async def main(url: str) -> None:
        async with AsyncJudgeClient(url) as c:
            await c.save_eval_set("mt", v1)
            run = await c.create_run([i | {"outputs": _outputs(i)} for i in v1], baseline="base", candidate="tuned",
                                     rubric="helpfulness", judges=["longer"], eval_set={"name": "mt", "version": 1})
            await c.wait_for_run(run.id, timeout=60)
            lines = (await c.export_fastchat(run.id)).splitlines()
            assert len(lines) == 6 and all(json.loads(x)["g1_winner"] == "model_2" for x in lines)
            annotations = await c.export_alpaca_eval(run.id, path=tmp_path / "annotations.json")
            assert len(annotations) == 6 and all(a["preference"] > 1.5 for a in annotations)
            assert json.loads((tmp_path / "annotations.json").read_text()) == annotations
            ev = await c.create_evaluation(baseline="base", candidate="tuned", layers={"judge": {"run_id": run.id}})
            await c.save_eval_set("mt", v1[1:])
            rerun = await c.rerun_evaluation(ev.id)
            assert rerun.dropped == ["q1"] and rerun.eval_set.version == 2
            assert not (await c.compare_evaluations(ev.id, rerun.evaluation.id)).comparable
            rows = tmp_path / "rows.jsonl"
            rows.write_text(json.dumps({"prompt": "p", "a": "x", "b": "y"}) + "\n")
            imported = await c.import_records(rows, baseline_field="a", candidate_field="b")
            assert imported.items[0].outputs == {"baseline": "x", "candidate": "y"}

    with serve(create_app(make_settings())) as url:
        asyncio.run(main(url))


def test_rerun_on_each_database(db_url, make_client):
    """The version check on runs and the re-run read JSON rows: the same answers on SQLite and PostgreSQL."""
    client = make_client(database_url=db_url)
    v1 = _questions(6)
    client.post("/v1/eval-sets", json={"name": "mt", "items": v1})
    run_id = _run(client, v1, 1)
    ev = client.post("/v1/evaluations", json={"baseline": "base", "candidate": "tuned",
                                              "layers": {"judge": {"run_id": run_id}}}).json()
    v2 = v1[1:] + [{"id": "q7", "prompt": "A new question?"}]
    assert client.post("/v1/eval-sets", json={"name": "mt", "items": v2}).json()["version"] == 2
    r = client.post(f"/v1/evaluations/{ev['id']}/rerun",
                    json={"outputs": [{"id": "q7", "outputs": _outputs({"id": "q7"})}]})
    assert r.status_code == 201, r.text
    assert (r.json()["reused"], r.json()["supplied"], r.json()["dropped"]) == (["q2", "q3", "q4", "q5", "q6"],
                                                                                ["q7"], ["q1"])
    assert wait_done(client, r.json()["run_id"])["status"] == "done"


def test_a_rerun_keeps_the_runs_length_probes(client):
    v1 = _questions(12)
    client.post("/v1/eval-sets", json={"name": "mt", "items": v1})
    r = client.post("/v1/runs", json={"rubric": "helpfulness", "judges": ["longer"], "baseline": "base",
                                      "candidate": "tuned", "eval_set": {"name": "mt", "version": 1},
                                      "length_probes": {"rewriter": "longer", "sample": 6},
                                      "options": {"n_resamples": 200},
                                      "items": [i | {"outputs": _outputs(i)} for i in v1]})
    assert r.status_code == 202, r.text
    wait_done(client, r.json()["id"])
    ev = client.post("/v1/evaluations", json={"baseline": "base", "candidate": "tuned",
                                              "layers": {"judge": {"run_id": r.json()["id"]}}}).json()
    v2 = [dict(i) for i in v1]
    v2[0]["prompt"] += " Answer briefly."
    client.post("/v1/eval-sets", json={"name": "mt", "items": v2})
    rerun = client.post(f"/v1/evaluations/{ev['id']}/rerun",
                        json={"outputs": [{"id": v2[0]["id"], "outputs": _outputs(v2[0])}]})
    assert rerun.status_code == 201, rerun.text
    wait_done(client, rerun.json()["run_id"])
    probes = client.get(f"/v1/runs/{rerun.json()['run_id']}/report").json()["pairwise"]["length_control"]["probes"]
    assert probes["used"] and probes["n_groups"] == 6
