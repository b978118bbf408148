"""A run over imported MT-Bench files: turn-2 items as each system's own conversation (not flattened),
and the files' GPT-4 judgments kept as the external judge ``external:gpt-4`` beside the service's
panel, its FastChat figures reproduced in the run's report. Real files from ../shared, a run on the
fake judge server over a real socket, and 422s for bad multi-turn shapes."""

from __future__ import annotations

import hashlib
import json
import re
import statistics
import threading

import pytest

from conftest import wait_done
from judge_client._imports import read_records
from judge_service.engine.prompts import render_messages
from judge_service.engine.compare import WINNER_FIELD
from judge_service.engine.grade import answer_fields
from judge_service.rubrics.registry import parse_rubric
from judge_service.settings import REPO_RUBRICS
from judge_service.testing.fake_server import FakeJudgeServer
from judge_service.testing.policies import JudgeView, prefer_longer
from test_imports import MT, OPUS, SINGLE, SONNET, _pair_fixture

BASE, CAND = "claude-3-opus-20240229", "claude-3-5-sonnet-20240620"
QIDS = range(81, 86)  # five questions, both turns: the fake-server run stays a few seconds


def _import(client, **extra) -> dict:
    body = {"questions": read_records(MT / "question.jsonl"), "baseline_answers": read_records(OPUS),
            "candidate_answers": read_records(SONNET), "single_judgments": read_records(SINGLE),
            "pair_judgments": _with_judge(_pair_fixture()), "pair_baseline": BASE} | extra
    r = client.post("/v1/imports/mt-bench", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def _with_judge(rows: list[dict]) -> list[dict]:
    """FastChat writes the judge as [model, prompt name] on every pair row."""
    return [r | {"judge": ["gpt-4", "pair-v2" if r["turn"] == 1 else "pair-v2-multi-turn"]} for r in rows]


def _answers(path) -> dict[int, list[str]]:
    return {a["question_id"]: a["choices"][0]["turns"] for a in read_records(path)}


def _blocks(prompt: str, tag: str) -> str:
    m = re.search(rf"<{tag}>\n(.*?)\n</{tag}>", prompt, re.DOTALL)
    assert m, f"no <{tag}> block"
    return m.group(1)


def _turns(block: str) -> list[tuple[str, str]]:
    return [(role, text) for role, text in re.findall(r'<turn role="(\w+)"(?: judged="true")?>\n(.*?)\n</turn>',
                                                      block, re.DOTALL)]


def test_turn_two_judge_prompts_hold_each_systems_own_conversation(make_client):
    prompts: list[str] = []
    lock = threading.Lock()

    def recording(view: JudgeView, rng):
        with lock:
            prompts.append(view.prompt_text)
        return prefer_longer(view, rng)

    with FakeJudgeServer(recording) as fake:
        client = make_client({"judges": [{"name": "fake-gpt", "provider": "openai_compatible", "model": "fake-judge",
                                          "family": "fake", "base_url": fake.openai_base_url}],
                              "default_panel": ["fake-gpt"]}, log_json=False)
        imported = _import(client)
        items = [i for i in imported["items"] if i["metadata"][BASE]["question_id"] in QIDS]
        assert len(items) == 10
        r = client.post("/v1/runs", json={"rubric": "helpfulness", "mode": "both", "baseline": BASE,
                                          "candidate": CAND, "items": items})
        assert r.status_code == 202, r.text
        assert wait_done(client, r.json()["id"])["status"] == "done"
        report = client.get(f"/v1/runs/{r.json()['id']}/report").json()

    questions = {q["question_id"]: q["turns"] for q in read_records(MT / "question.jsonl")}
    opus, sonnet = _answers(OPUS), _answers(SONNET)
    q1, q2 = questions[83]
    own = {BASE: [("user", q1), ("assistant", opus[83][0]), ("user", q2), ("assistant", opus[83][1])],
           CAND: [("user", q1), ("assistant", sonnet[83][0]), ("user", q2), ("assistant", sonnet[83][1])]}
    # Pairwise: both orders of the turn-2 item, each response block one assistant's whole conversation.
    pair = [p for p in prompts if "<response_a>\n" in p and opus[83][1] in p]
    assert len(pair) == 2
    seen_first = []
    for p in pair:
        a, b = _turns(_blocks(p, "response_a")), _turns(_blocks(p, "response_b"))
        assert {json.dumps(a), json.dumps(b)} == {json.dumps(own[BASE]), json.dumps(own[CAND])}
        seen_first.append(BASE if a == own[BASE] else CAND)
        assert 'judged="true">\n' + (opus if a == own[BASE] else sonnet)[83][1] in _blocks(p, "response_a")
        assert "each of <response_a> and <response_b> holds that assistant's whole conversation" in p
        # The other system's first answer is nowhere in this one's block: the conversations are apart.
        assert sonnet[83][0] not in _blocks(p, "response_a" if a == own[BASE] else "response_b")
    assert sorted(seen_first) == sorted([BASE, CAND])  # both orders
    # Absolute: each system's own conversation, its second answer the response under judgment.
    for system, answers in ((BASE, opus), (CAND, sonnet)):
        [p] = [p for p in prompts if "<response>\n" in p and _blocks(p, "response") == answers[83][1]]
        assert _turns(_blocks(p, "conversation")) == own[system][:3]
    # Turn 1 is a plain single-turn prompt, as before: no turns, no note.
    [t1] = [p for p in prompts if "<response_a>\n" in p and _blocks(p, "response_a") == opus[83][0]]
    assert _blocks(t1, "conversation") == q1 and "whole conversation" not in t1

    # The report: the imported GPT-4 verdicts as an external judge beside the service's judge.
    assert [j["judge"] for j in report["judges"]] == ["fake-gpt"]
    [ext] = report["external_judges"]
    assert ext["judge"] == "external:gpt-4"
    assert (ext["imported"], ext["re_run"], ext["cost_usd"], ext["in_panel"]) == (True, False, 0.0, False)
    rows = {(r["question_id"], r["turn"]): r for r in _pair_fixture() if r["question_id"] in QIDS}
    winner = {"model_1": BASE, "model_2": CAND, "tie": "tie", "error": None}
    by_item = {i["item_id"]: i for i in ext["items"]}
    for (qid, turn), row in rows.items():
        games = by_item[f"mt-{qid}-t{turn}"]["orders"]
        # g1 shows model_1 (the baseline) first: order AB; g2 shows the candidate first: BA.
        assert games == {"AB": _role(winner[row["g1_winner"]]), "BA": _role(winner[row["g2_winner"]])}
    agree = sum(r["g1_winner"] == r["g2_winner"] for r in rows.values() if "error" not in (r["g1_winner"], r["g2_winner"]))
    assert ext["pair_consistency"]["consistent"] == agree and ext["pair_consistency"]["n"] == len(rows) - (
        sum("error" in (r["g1_winner"], r["g2_winner"]) for r in rows.values()))
    assert ext["win_rate"]["ci_low"] <= ext["win_rate"]["estimate"] <= ext["win_rate"]["ci_high"]
    single = {(r["question_id"], r["turn"], r["model"]): r["score"] for r in read_records(SINGLE)}
    assert ext["mean_scores"]["candidate"] == pytest.approx(
        statistics.fmean(single[(q, t, CAND)] for q in QIDS for t in (1, 2)), abs=1e-12)


def _role(name: str | None) -> str | None:
    return {BASE: "baseline", CAND: "candidate", "tie": "tie", None: None}[name]


def test_the_run_report_reproduces_fastchats_figures_for_the_external_judge(client):
    imported = _import(client)
    r = client.post("/v1/runs", json={"rubric": "helpfulness", "judges": ["longer"], "mode": "pairwise",
                                      "baseline": BASE, "candidate": CAND, "items": imported["items"]})
    assert r.status_code == 202, r.text
    run_id = r.json()["id"]
    assert wait_done(client, run_id)["status"] == "done"
    report = client.get(f"/v1/runs/{run_id}/report").json()
    [ext] = report["external_judges"]
    # show_result.py's pairwise-baseline row, as the importer computes it from the pair file (and
    # test_imports checks by hand), is the external judge's FastChat tally in the run's report.
    [row] = imported["pairwise"]
    assert (ext["fastchat"]["win"], ext["fastchat"]["loss"], ext["fastchat"]["tie"]) == (row["win"], row["loss"], row["tie"])
    assert ext["fastchat"]["win_rate_adjusted"] == row["win_rate_adjusted"]
    assert ext["fastchat"]["dropped"] == 1
    assert ext["pair_consistency"] == {k: imported["pair_consistency"][k] for k in ("n", "consistent", "rate")}
    # show_result.py --mode single over all 160 judgments: the MT-Bench scores in shared/data/README.md.
    assert ext["mean_scores"] == {"baseline": pytest.approx(8.675, abs=1e-12), "candidate": pytest.approx(9.20625, abs=1e-12)}
    # The service's win rate for the external judge, by hand: each item's mean over its scored games.
    values = {"candidate": 1.0, "tie": 0.5, "baseline": 0.0}
    per_item = [statistics.fmean(values[w] for w in i["orders"].values() if w is not None)
                for i in ext["items"] if any(w is not None for w in i["orders"].values())]
    assert ext["win_rate"]["estimate"] == pytest.approx(statistics.fmean(per_item), abs=1e-12)
    assert ext["win_rate"]["n"] == 160
    # Its agreement with the service's judge, by hand: each side's item verdict after both orders.
    from sklearn.metrics import cohen_kappa_score

    def verdict(winners: list[str]) -> str:
        pref = statistics.fmean(values[w] for w in winners)
        return "B" if pref > 0.5 else "A" if pref < 0.5 else "tie"

    served = {i["id"]: verdict([w for o in i["result"]["pairwise"]["judges"][0]["orders"] for w in o["winners"]])
              for i in client.get(f"/v1/runs/{run_id}/items").json()}
    imported_verdicts = {i["item_id"]: verdict([w for w in i["orders"].values() if w is not None])
                         for i in ext["items"] if any(w is not None for w in i["orders"].values())}
    ids = sorted(imported_verdicts)
    a, b = [imported_verdicts[i] for i in ids], [served[i] for i in ids]
    agreement = ext["agreement_with_panel"]
    assert agreement["n"] == 160
    assert agreement["accuracy"]["estimate"] == pytest.approx(sum(x == y for x, y in zip(a, b)) / 160, abs=1e-12)
    assert agreement["cohen_kappa"]["estimate"] == pytest.approx(cohen_kappa_score(a, b, labels=["A", "B", "tie"]), abs=1e-12)
    # Beside, not in: the headline is the service judge's alone.
    assert [j["judge"] for j in report["judges"]] == ["longer"]
    assert report["pairwise"]["n_scored_calls"] == 320

    # An evaluation's judge layer names the imported judge beside the panel's headline, not as it.
    ev = client.post("/v1/evaluations", json={"baseline": BASE, "candidate": CAND, "layers": {"judge": {"run_id": run_id}}})
    assert ev.status_code in (200, 201, 202), ev.text
    layer = next(v for v in ev.json()["layers"] if v["layer"] == "judge")
    assert layer["headline"].startswith(report["headline_metric"])
    assert f"; external:gpt-4 (imported, not re-run, beside the panel): win rate {ext['win_rate']['estimate']:.2f}" in layer["headline"]

    # Asked for, the external judge joins the panel in every figure.
    r = client.post("/v1/runs", json={"rubric": "helpfulness", "judges": ["longer"], "mode": "pairwise",
                                      "baseline": BASE, "candidate": CAND, "items": imported["items"],
                                      "options": {"external_judges": "panel"}})
    assert wait_done(client, r.json()["id"])["status"] == "done"
    panel = client.get(f"/v1/runs/{r.json()['id']}/report").json()
    assert [j["judge"] for j in panel["judges"]] == ["external:gpt-4", "longer"]
    assert panel["pairwise"]["n_scored_calls"] == 320 + 319  # the external judge's one error game left out
    assert panel["external_judges"][0]["in_panel"] is True


def _item(**extra) -> dict:
    return {"id": "t2", "messages": [{"role": "user", "content": "q1"}, {"role": "user", "content": "q2"}],
            "histories": {"base": ["a1"], "tuned": ["b1"]}, "outputs": {"base": "a2", "tuned": "b2"}} | extra


@pytest.mark.parametrize("item, field", [
    (_item(histories={"base": ["a1", "a0"], "tuned": ["b1"]}), "items.0.histories.base"),
    (_item(histories={"base": ["a1"]}), "items.0.histories"),
    (_item(messages=[{"role": "user", "content": "q1"}, {"role": "assistant", "content": "shared"},
                     {"role": "user", "content": "q2"}]), "items.0.messages.1"),
    (_item(messages=None, prompt="q2"), "items.0.messages"),
    (_item(histories={"base": [" "], "tuned": ["b1"]}), "items.0.histories.base"),
    (_item(external_judgments={"gpt-4": {"orders": [{"first": "base", "winner": "model_1"}]}}),
     "items.0.external_judgments.gpt-4.orders.0.winner"),
    (_item(external_judgments={"gpt-4": {"orders": [{"first": "other", "winner": "tie"}]}}),
     "items.0.external_judgments.gpt-4.orders.0.first"),
    (_item(external_judgments={"gpt-4": {"orders": [{"first": "base", "winner": "tie"}] * 2}}),
     "items.0.external_judgments.gpt-4.orders"),
    (_item(external_judgments={"gpt-4": {"scores": {"other": 3}}}), "items.0.external_judgments.gpt-4.scores.other"),
])
def test_bad_multi_turn_and_external_shapes_are_422_naming_the_field(client, item, field):
    r = client.post("/v1/runs", json={"rubric": "helpfulness", "judges": ["longer"], "baseline": "base",
                                      "candidate": "tuned", "items": [item]})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == field


# sha256 of the judge messages rendered by the code before histories existed (commit a36306b), for a
# single-turn item and a shared multi-turn one: histories must not move a byte of those prompts (the
# call cache keys on them, so a changed byte would re-pay every cached verdict).
PINNED = {"pairwise_single": "c6091300f16aa1517b8fcef51d8ebba09e839bd24d2a85f2c703cf4ff4681cd6",
          "absolute_single": "c71ad8e63c5ea75d3ea6813828be7a1d86ff4011312dc3d2903c6dd5e9ae6b9b",
          "pairwise_shared": "8b0e02ba47c3fa29ecc68d039b0291ec9038585cd9980f4b78d4ce7acd95e6dd"}


def _digest(messages) -> str:
    return hashlib.sha256(json.dumps([[m.role, m.content] for m in messages]).encode()).hexdigest()


def test_prompts_without_histories_are_unchanged():
    import yaml

    rubric = parse_rubric(yaml.safe_load((REPO_RUBRICS / "helpfulness" / "v1.yaml").read_text()), source="helpfulness")
    single = [("user", "What is 2 + 2?")]
    shared = [("system", "Be brief."), ("user", "Hi"), ("assistant", "Hello!"), ("user", "What is 2 + 2?")]
    got = {
        "pairwise_single": _digest(render_messages(rubric, "pairwise", (WINNER_FIELD,), messages=single,
                                                   response_a="4", response_b="Four.")),
        "absolute_single": _digest(render_messages(rubric, "absolute", answer_fields(rubric), messages=single,
                                                   response="4")),
        "pairwise_shared": _digest(render_messages(rubric, "pairwise", (WINNER_FIELD,), messages=shared,
                                                   response_a="4", response_b="<response>4</response>")),
    }
    assert got == PINNED


def test_an_eval_set_rerun_keeps_a_reused_turn_two_items_histories():
    from judge_service.evalsets.content import diff
    from judge_service.evaluation.rerun import rerun_items

    old = _item() | {"external_judgments": {"gpt-4": {"orders": [{"first": "base", "winner": "tuned"}]}}}
    version_item = {"id": "t2", "messages": old["messages"]}
    kept = rerun_items([version_item], diff({"t2": "h"}, {"t2": "h"}), {"t2": old}, {})
    assert kept.reused == ["t2"]
    assert kept.items[0]["histories"] == old["histories"]
    assert kept.items[0]["external_judgments"] == old["external_judgments"]
    # New outputs supplied for the item: the old histories and verdicts were about the old outputs.
    fresh = rerun_items([version_item], diff({"t2": "h"}, {"t2": "h"}), {"t2": old}, {"t2": {"base": "x", "tuned": "y"}})
    assert "histories" not in fresh.items[0] and "external_judgments" not in fresh.items[0]


def test_cli_import_then_run_prints_the_imported_judge_beside_the_panel(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from conftest import SCRIPTED_JUDGES, write_config
    from judge_service.cli import app as cli

    monkeypatch.setenv("JUDGE_CONFIG", str(write_config(tmp_path / "judges.yaml", SCRIPTED_JUDGES)))
    monkeypatch.setenv("JUDGE_DATA_DIR", str(tmp_path / "data"))
    pair = tmp_path / "gpt-4_pair.jsonl"
    pair.write_text("".join(json.dumps(r) + "\n" for r in _with_judge(_pair_fixture())))
    items = tmp_path / "items.jsonl"
    runner = CliRunner()
    res = runner.invoke(cli, ["import", "mt-bench", "--local", "--questions", str(MT / "question.jsonl"), str(OPUS),
                              str(SONNET), "--pair-judgments", str(pair), "--pair-baseline", BASE, "--turn", "2",
                              "--items-out", str(items)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    lines = [json.loads(line) for line in items.read_text().splitlines()]
    assert len(lines) == 80 and all("histories" in i and "prompt" not in i for i in lines)
    res = runner.invoke(cli, ["run", "create", str(items), "--baseline", BASE, "--candidate", CAND, "-r", "helpfulness",
                              "--local", "--poll-interval", "0.05"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "external:gpt-4" in res.stdout and "beside" in res.stdout


def test_single_comparisons_and_judgments_take_histories_too(client):
    from conftest import provider_of

    shared = [{"role": "user", "content": "Name a prime."}, {"role": "user", "content": "Another, larger one?"}]
    r = client.post("/v1/comparisons", json={"rubric": "helpfulness", "messages": shared, "response_a": "11",
                                             "response_b": "13", "history_a": ["7"], "history_b": ["5"],
                                             "judges": ["longer"]})
    assert r.status_code == 200, r.text
    prompts = [q.messages[-1].content for q in provider_of(client, "longer").log.requests[-2:]]
    ab = next(p for p in prompts if _turns(_blocks(p, "response_a"))[1] == ("assistant", "7"))
    assert _turns(_blocks(ab, "response_a")) == [("user", "Name a prime."), ("assistant", "7"),
                                                 ("user", "Another, larger one?"), ("assistant", "11")]
    assert _turns(_blocks(ab, "response_b"))[1:] == [("assistant", "5"), ("user", "Another, larger one?"),
                                                     ("assistant", "13")]
    ba = next(p for p in prompts if p is not ab)
    assert _turns(_blocks(ba, "response_a"))[1] == ("assistant", "5")  # swapped with its response
    r = client.post("/v1/judgments", json={"rubric": "helpfulness", "messages": shared, "response": "11",
                                           "history": ["7"], "judges": ["lengthy-scorer"]})
    assert r.status_code == 200, r.text
    prompt = provider_of(client, "lengthy-scorer").log.requests[-1].messages[-1].content
    assert _turns(_blocks(prompt, "conversation")) == [("user", "Name a prime."), ("assistant", "7"),
                                                       ("user", "Another, larger one?")]
    for body, field in (({"history_a": ["7"]}, "history_b"), ({"history_a": ["7", "8"], "history_b": ["5"]}, "history_a"),
                        ({"history_a": ["7"], "history_b": ["5"], "messages": None, "prompt": "Hi"}, "messages")):
        r = client.post("/v1/comparisons", json={"rubric": "helpfulness", "messages": shared, "response_a": "11",
                                                 "response_b": "13", "judges": ["longer"]} | body)
        assert r.status_code == 422 and r.json()["error"]["field"] == field, r.text


def test_the_client_sends_histories(make_settings):
    from judge_client import JudgeClient
    from judge_service.app import create_app
    from test_client import serve

    shared = [{"role": "user", "content": "Name a prime."}, {"role": "user", "content": "Another, larger one?"}]
    with serve(create_app(make_settings())) as url, JudgeClient(url) as c:
        # 'longer' reads the whole blocks: B's own conversation is longer only through its history.
        got = c.compare(rubric="helpfulness", messages=shared, response_a="11", response_b="13", judges=["longer"],
                        history_a=["7"], history_b=["a much longer first answer: 5"])
        assert got.winner == "B"
        plain = c.compare(rubric="helpfulness", messages=shared, response_a="11", response_b="13", judges=["longer"])
        assert plain.winner == "tie"
        graded = c.judge(rubric="helpfulness", messages=shared, response="11", history=["7"], judges=["lengthy-scorer"])
        assert graded.score is not None


def test_blind_raters_read_each_sides_own_conversation(client):
    items = [_item(id=f"t{k}", outputs={"base": f"a2-{k}", "tuned": f"b2-{k} longer"},
                   histories={"base": [f"a1-{k}"], "tuned": [f"b1-{k}"]}) for k in range(4)]
    r = client.post("/v1/runs", json={"rubric": "helpfulness", "judges": ["longer"], "mode": "both", "baseline": "base",
                                      "candidate": "tuned", "items": items})
    rid = r.json()["id"]
    assert wait_done(client, rid)["status"] == "done"
    # The run's reader (the items page) shows each system's own earlier answers beside its output.
    read = {i["id"]: i for i in client.get(f"/v1/reader/runs/{rid}/items").json()["items"]}
    assert (read["t2"]["baseline_history"], read["t2"]["candidate_history"]) == (["a1-2"], ["b1-2"])
    token = client.post("/v1/rating-tasks", json={"run_id": rid, "raters": ["ann"]}).json()["raters"][0]["token"]
    for pair in client.get(f"/rater-api/{token}").json()["pairs"]:
        k = pair["item_id"][1:]
        # Each side's own first answer travels with its response, whichever side it is shown on.
        for side in ("left", "right"):
            own = "a1" if pair[side].startswith("a2") else "b1"
            assert pair[f"{side}_history"] == [f"{own}-{k}"]
    # The votes become a rating set that keeps each side's history, and a calibration on it judges
    # the items as the run did: each system's own conversation.
    for pair in client.get(f"/rater-api/{token}").json()["pairs"]:
        client.post(f"/rater-api/{token}/votes", json={"item_id": pair["item_id"], "vote": "left"})
    [task] = client.get("/v1/rating-tasks", params={"run_id": rid}).json()
    task_id = task["id"]
    rs = client.post(f"/v1/rating-tasks/{task_id}/rating-set")
    assert rs.status_code == 201, rs.text
    from judge_service.store.models import RatingSetRow

    with client.app.state.ctx.db.session() as session:
        stored = session.get(RatingSetRow, rs.json()["id"]).content["items"]
    assert {(i["id"], tuple(i["history_a"]), tuple(i["history_b"])) for i in stored} == {
        (f"t{k}", (f"a1-{k}",), (f"b1-{k}",)) for k in range(4)}
    from conftest import provider_of

    log = provider_of(client, "longer").log
    before = log.count
    cal = client.post("/v1/calibrations", json={"rating_set": rs.json()["id"], "judges": ["longer"], "folds": 2})
    assert cal.status_code == 202, cal.text
    from test_calibration_api import wait

    assert wait(client, cal.json()["id"])["status"] == "done"
    # Every call was a cache hit on the run's own prompts: the same conversations, histories included
    # (without them the prompts would differ and the judge would be called again).
    assert log.count == before
    token = client.post("/v1/rating-tasks", json={"run_id": rid, "raters": ["cy"], "mode": "absolute"}).json()
    units = client.get(f"/rater-api/{token['raters'][0]['token']}").json()["units"]
    for unit in units:
        own = "a1" if unit["response"].startswith("a2") else "b1"
        assert unit["conversation"] == [["user", "q1"], ["assistant", f"{own}-{unit['response'].split('-')[1].split()[0]}"],
                                         ["user", "q2"]]


@pytest.mark.parametrize("extra, field", [
    ({"response_a": "a2", "response_b": "b2", "history_a": ["a1"]}, "items.0.history_b"),
    ({"response_a": "a2", "response_b": "b2", "history_a": ["a1", "a0"], "history_b": ["b1"]}, "items.0.history_a"),
])
def test_rating_sets_check_histories_like_runs(client, extra, field):
    item = {"id": "t2", "messages": [{"role": "user", "content": "q1"}, {"role": "user", "content": "q2"}],
            "ratings": {"ann": "A"}} | extra
    r = client.post("/v1/rating-sets", json={"name": "mt", "kind": "pairwise", "items": [item]})
    assert r.status_code == 422 and r.json()["error"]["field"] == field, r.text
    ok = item | {"history_a": ["a1"], "history_b": ["b1"]}
    assert client.post("/v1/rating-sets", json={"name": "mt", "kind": "pairwise", "items": [ok]}).status_code == 201


def test_pair_rows_map_to_the_runs_orders_whichever_model_is_model_1():
    from judge_service.importers.mt_bench import PairJudgment, SingleJudgment, external_judgments
    from judge_service.runs.external import external_records

    arms = {"opus-id": "base", "sonnet-id": "tuned"}
    rows = [PairJudgment(81, "opus-id", "sonnet-id", 1, "model_2", "model_2"),  # baseline shown first in game 1
            PairJudgment(82, "sonnet-id", "opus-id", 1, "model_1", "tie"),  # the candidate is model_1 here
            PairJudgment(83, "opus-id", "sonnet-id", 2, "error", "model_1"),
            PairJudgment(84, "opus-id", "gpt-3.5", 1, "model_1", "model_1")]  # another pair: not this run's
    got = external_judgments(pair=rows, single=[SingleJudgment(81, "sonnet-id", 1, None)], arms=arms, source="f")
    assert sorted(got) == [(81, 1), (82, 1), (83, 2)]
    assert got[(82, 1)]["orders"] == [{"first": "tuned", "winner": "tuned"}, {"first": "base", "winner": "tie"}]
    assert got[(83, 2)]["orders"][0] == {"first": "base", "winner": None}
    assert got[(81, 1)]["scores"] == {"tuned": None} and got[(81, 1)]["source"] == "f"
    items = [{"id": f"mt-{q}-t{t}", "external_judgments": {"gpt-4": v}} for (q, t), v in sorted(got.items())]
    pairwise, absolute = external_records(items, "base", "tuned")
    by = {(r.item_id, r.order): (r.winner, r.prob_candidate) for r in pairwise}
    assert by[("mt-82-t1", "BA")] == ("candidate", 1.0) and by[("mt-82-t1", "AB")] == ("tie", 0.5)
    assert by[("mt-81-t1", "AB")] == ("candidate", 1.0) and by[("mt-83-t2", "AB")] == (None, None)
    assert [(a.item_id, a.system, a.score) for a in absolute] == [("mt-81-t1", "candidate", None)]
