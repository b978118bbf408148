"""Versioned eval sets: content identity (order and formatting do not mint versions), immutable
versions, diffs naming the items added, removed and changed; HTTP, client and CLI."""

from __future__ import annotations

import hashlib
import json

from typer.testing import CliRunner

from conftest import SHARED_DATA, SCRIPTED_JUDGES, write_config
from judge_client import JudgeClient
from judge_service.app import create_app
from judge_service.cli import app as cli
from judge_service.evalsets.content import item_hash, set_hash
from test_client import serve

MT_QUESTIONS = SHARED_DATA / "mt_bench" / "question.jsonl"


def mt_items() -> list[dict]:
    rows = [json.loads(line) for line in MT_QUESTIONS.read_text().splitlines()]
    return [{"id": str(r["question_id"]), "prompt": r["turns"][0], "metadata": {"category": r["category"]}} for r in rows]


def test_item_hash_is_canonical_json_sha256():
    item = {"prompt": "2+2?", "id": "q1", "reference": "4"}
    by_hand = hashlib.sha256(b'{"id":"q1","prompt":"2+2?","reference":"4"}').hexdigest()
    assert item_hash(item) == by_hand
    assert item_hash(dict(reversed(list(item.items())))) == by_hand
    assert set_hash({"b": "2", "a": "1"}) == hashlib.sha256(b"a\x001\nb\x002\n").hexdigest()


def test_versions_diff_and_identity(client):
    items = mt_items()
    r = client.post("/v1/eval-sets", json={"name": "mt-bench", "items": items, "note": "the 80 questions"})
    assert r.status_code == 201, r.text
    v1 = r.json()
    assert (v1["version"], v1["n_items"], v1["created"], v1["changes"]) == (1, 80, True, "first version")
    # Same content, other order and key order: no new version.
    shuffled = [dict(reversed(list(i.items()))) for i in reversed(items)]
    r = client.post("/v1/eval-sets", json={"name": "mt-bench", "items": shuffled})
    assert r.status_code == 200 and r.json()["version"] == 1 and r.json()["created"] is False
    assert r.json()["content_hash"] == v1["content_hash"]
    # One item edited, one removed, one added.
    changed = [dict(i) for i in items if i["id"] != "90"]
    changed[0]["prompt"] += " Keep it short."
    changed.append({"id": "extra-1", "prompt": "A new question?", "reference": "yes"})
    r = client.post("/v1/eval-sets", json={"name": "mt-bench", "items": changed, "note": "fix q81, drop q90"})
    assert r.status_code == 201 and r.json()["version"] == 2
    assert r.json()["changes"] == "1 added, 1 removed, 1 changed, 78 unchanged"
    d = client.get("/v1/eval-sets/mt-bench/diff", params={"from": 1}).json()
    assert (d["added"], d["removed"], d["changed"], d["unchanged"]) == (["extra-1"], ["90"], ["81"], 78)
    assert d["to_version"] == 2 and d["identical"] is False
    # Version 1 is immutable and still readable as it was.
    old = client.get("/v1/eval-sets/mt-bench/versions/1").json()
    assert old["items"] == items and old["note"] == "the 80 questions"
    hist = client.get("/v1/eval-sets/mt-bench").json()
    assert [v["version"] for v in hist["versions"]] == [1, 2]
    assert client.get("/v1/eval-sets").json() == [{"name": "mt-bench", "latest_version": 2, "n_items": 80}]


def test_bad_eval_sets_are_4xx_naming_the_field(client):
    def post(body: dict):
        return client.post("/v1/eval-sets", json=body)

    r = post({"name": "x", "items": [{"id": "a", "prompt": "p"}, {"id": "a", "prompt": "q"}]})
    assert r.status_code == 422 and r.json()["error"]["field"] == "items.1.id"
    r = post({"name": "x", "items": [{"id": "a"}]})
    assert r.status_code == 422 and r.json()["error"]["field"] == "items.0"
    r = post({"name": "has space", "items": [{"id": "a", "prompt": "p"}]})
    assert r.status_code == 422 and r.json()["error"]["field"] == "name"
    r = post({"name": "x", "items": [{"id": "a", "prompt": "p", "colour": "red"}]})
    assert r.status_code == 422 and r.json()["error"]["field"] == "items.0.colour"
    assert client.get("/v1/eval-sets/nope").status_code == 404
    post({"name": "y", "items": [{"id": "a", "text": "held-out text"}]})
    r = client.get("/v1/eval-sets/y/versions/7")
    assert r.status_code == 404 and r.json()["error"]["field"] == "version"


def test_client_and_cli(make_settings, tmp_path, monkeypatch):
    path = tmp_path / "evalset.jsonl"
    path.write_text("".join(json.dumps(i) + "\n" for i in mt_items()[:10]))
    with serve(create_app(make_settings())) as url, JudgeClient(url) as c:
        first = c.save_eval_set("smoke", path, note="ten questions")
        again = c.save_eval_set("smoke", mt_items()[:10])
        assert first.version == again.version == 1 and again.created is False
        second = c.save_eval_set("smoke", mt_items()[:11])
        assert second.version == 2 and second.changes == "1 added, 0 removed, 0 changed, 10 unchanged"
        assert c.diff_eval_set("smoke", 1).added == ["91"]
        assert len(c.get_eval_set("smoke", 1).items) == 10
    monkeypatch.setenv("JUDGE_CONFIG", str(write_config(tmp_path / "judges.yaml", SCRIPTED_JUDGES)))
    monkeypatch.setenv("JUDGE_DATA_DIR", str(tmp_path / "cli-data"))  # a fresh service: versions start at 1
    runner = CliRunner()
    res = runner.invoke(cli, ["eval-set", "save", "--local", "smoke", str(path), "--note", "v1"], catch_exceptions=False)
    assert res.exit_code == 0 and "saved as version 1 (10 items" in res.output
    path.write_text("".join(json.dumps(i) + "\n" for i in mt_items()[1:10]))
    res = runner.invoke(cli, ["eval-set", "save", "--local", "smoke", str(path)], catch_exceptions=False)
    assert "saved as version 2" in res.output and "1 removed" in res.output
    res = runner.invoke(cli, ["eval-set", "diff", "--local", "smoke", "1", "2"], catch_exceptions=False)
    assert res.exit_code == 0 and "removed: 81" in res.output
    res = runner.invoke(cli, ["eval-set", "history", "--local", "smoke", "--json"], catch_exceptions=False)
    assert [v["version"] for v in json.loads(res.output)["versions"]] == [1, 2]
