"""Runs through HTTP: creation (JSON and upload), background execution, items, bad input."""

from __future__ import annotations

import json
import time

import pytest

from conftest import provider_of, wait_done


def make_items(n: int, *, long_candidate: bool = True) -> list[dict]:
    items = []
    for i in range(n):
        base = f"Answer {i}."
        cand = f"A fuller answer number {i}, with detail." if long_candidate else f"Ans {i}"
        items.append({"id": f"q{i}", "prompt": f"Question {i}?", "outputs": {"base": base, "tuned": cand}})
    return items


def run_body(items, **kw):
    return {"rubric": "helpfulness", "judges": ["longer"], "mode": "pairwise", "baseline": "base",
            "candidate": "tuned", "items": items} | kw


def test_run_executes_in_background_and_stores_every_item(client):
    r = client.post("/v1/runs", json=run_body(make_items(12), mode="both", judges=["longer", "text-longer"]))
    assert r.status_code == 202, r.text
    run_id = r.json()["id"]
    status = wait_done(client, run_id)
    assert status["status"] == "done" and status["progress"] == {"done": 12, "failed": 0, "pending": 0, "total": 12}
    items = client.get(f"/v1/runs/{run_id}/items").json()
    assert [i["id"] for i in items] == [f"q{i}" for i in range(12)]
    first = items[0]["result"]
    assert first["pairwise"]["winner"] == "candidate"  # 'longer' prefers the longer, candidate's, answer
    assert {o["order"] for o in first["pairwise"]["judges"][0]["orders"]} == {"AB", "BA"}
    assert first["absolute"]["candidate"]["score"] > first["absolute"]["baseline"]["score"]


def test_upload_jsonl_and_csv(client):
    items = make_items(3)
    spec = json.dumps({k: v for k, v in run_body(items).items() if k != "items"})
    jsonl = "\n".join(json.dumps(i) for i in items).encode()
    r = client.post("/v1/runs/upload", data={"spec": spec}, files={"file": ("items.jsonl", jsonl)})
    assert r.status_code == 202, r.text
    assert wait_done(client, r.json()["id"])["progress"]["done"] == 3
    csv_text = "id,prompt,base,tuned\nq1,Why?,Because.,Because of a longer reason.\n".encode()
    r = client.post("/v1/runs/upload", data={"spec": spec}, files={"file": ("items.csv", csv_text)})
    assert r.status_code == 202, r.text
    assert wait_done(client, r.json()["id"])["progress"]["done"] == 1
    bad = client.post("/v1/runs/upload", data={"spec": spec}, files={"file": ("items.jsonl", b'{"id": "x"\n')})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "file.line1"


def test_rerun_of_same_items_makes_no_new_calls(client):
    items = make_items(5)
    wait_done(client, client.post("/v1/runs", json=run_body(items)).json()["id"])
    calls = provider_of(client, "longer").log.count
    assert calls == 5 * 2
    wait_done(client, client.post("/v1/runs", json=run_body(items)).json()["id"])
    assert provider_of(client, "longer").log.count == calls


@pytest.mark.parametrize(
    "mutate, field, status",
    [
        (lambda b: b["items"][0]["outputs"].update(other="x"), "items.0.outputs", 422),
        (lambda b: b["items"][1]["outputs"].pop("tuned"), "items.1.outputs", 422),
        (lambda b: b["items"][2].update(id="q0"), "items.2.id", 422),
        (lambda b: b.update(items=[]), "items", 422),
        (lambda b: b.update(candidate="base"), "candidate", 422),
        (lambda b: b.update(rubric="nope"), "rubric", 404),
        (lambda b: b.update(judges=["ghost"]), "judges", 404),
        (lambda b: b.update(mode="ranking"), "mode", 422),
        (lambda b: b["items"][0]["outputs"].update(tuned=" "), "items.0.outputs.tuned", 422),
        (lambda b: b["items"][0].pop("prompt"), "items.0.prompt", 422),
    ],
)
def test_bad_runs_are_refused_up_front(client, mutate, field, status):
    body = run_body(make_items(3))
    mutate(body)
    r = client.post("/v1/runs", json=body)
    assert r.status_code == status, r.text
    assert r.json()["error"]["field"] == field
    assert provider_of(client, "longer").log.count == 0


def test_too_many_items(make_client):
    client = make_client(max_run_items=5)
    r = client.post("/v1/runs", json=run_body(make_items(6)))
    assert r.status_code == 413 and r.json()["error"]["field"] == "items"


def test_unknown_run(client):
    for path in ("/v1/runs/run_x", "/v1/runs/run_x/items", "/v1/runs/run_x/report"):
        r = client.get(path)
        assert r.status_code == 404 and r.json()["error"]["field"] == "id"


def test_report_gives_a_verdict_with_uncertainty_and_ppi(client):
    items = make_items(40)
    for i, item in enumerate(items[:12]):
        item["human_preference"] = "tuned" if i % 4 else "tie"
    run_id = client.post("/v1/runs", json=run_body(items, judges=["longer", "first"])).json()["id"]
    wait_done(client, run_id)
    rep = client.get(f"/v1/runs/{run_id}/report").json()
    assert rep["complete"] is True and rep["n_items"] == 40
    assert isinstance(rep["verdict"], str) and "n = 40" in rep["verdict"]
    judges = {j["judge"]: j for j in rep["judges"]}
    # the position-biased judge is visible: it never agrees with itself across orders
    assert judges["first"]["position_consistency"]["estimate"] == 0.0
    assert judges["first"]["first_position_share"]["estimate"] == 1.0
    assert judges["longer"]["position_consistency"]["estimate"] == 1.0
    ppi = rep["ppi"]
    assert ppi["n_human"] == 12 and ppi["n_judge_only"] == 28
    assert ppi["ppi"]["ci_low"] <= ppi["ppi"]["estimate"] <= ppi["ppi"]["ci_high"]


def test_human_preference_must_name_a_system(client):
    items = make_items(3)
    items[1]["human_preference"] = "gpt"
    r = client.post("/v1/runs", json=run_body(items))
    assert r.status_code == 422 and r.json()["error"]["field"] == "items.1.human_preference"
