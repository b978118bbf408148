"""The UI's backend through HTTP: the reader's filters and rationales, blind rating tasks and their rating set."""

from __future__ import annotations

from collections import Counter

from conftest import wait_done
from judge_service.ui.rating import candidate_left


def _run(client, n: int = 10) -> str:
    items = [{"id": f"q{i}", "prompt": f"Q {i}?", "outputs": {"base": "short " * (i % 3 + 1), "tuned": "longer " * (i % 5 + 1)}}
             for i in range(n)]
    rid = client.post("/v1/runs", json={"rubric": "helpfulness", "judges": ["longer", "first"], "mode": "pairwise",
                                        "baseline": "base", "candidate": "tuned", "items": items}).json()["id"]
    wait_done(client, rid)
    return rid


def test_reader_filters_and_rationales(client):
    rid = _run(client)
    assert rid in [r["id"] for r in client.get("/v1/reader/runs").json()]
    # judge "first" always picks position A, so its two orders disagree on every item
    page = client.get(f"/v1/reader/runs/{rid}/items", params={"filter": "orders_disagree", "limit": 3}).json()
    assert page["total"] == 10 and len(page["items"]) == 3
    item = page["items"][0]
    assert {(r["judge"], r["order"]) for r in item["rationales"]} == {(j, o) for j in ("longer", "first") for o in ("AB", "BA")}
    assert all(r["rationale"] == "scripted" for r in item["rationales"])
    assert "inconsistent" in item["flags"]
    assert client.get(f"/v1/reader/runs/{rid}/items", params={"q": "Q 7?"}).json()["total"] == 1
    assert client.get(f"/v1/reader/runs/{rid}/items", params={"ids": "q1,q2"}).json()["total"] == 2
    assert client.get("/v1/reader/runs/nope/items").status_code == 404


def test_blind_rating_becomes_a_pairwise_rating_set(client):
    rid = _run(client)
    task = client.post("/v1/rating-tasks", json={"run_id": rid, "raters": ["ann", "bob"]}).json()
    ann = task["raters"][0]["token"]
    page = client.get(f"/rater-api/{ann}").json()
    assert "base" not in str(page.keys()) and len(page["pairs"]) == 10
    # the rater always picks the longer text as shown: stored canonically, that is the candidate ("B") when longer
    for p in page["pairs"]:
        vote = "left" if len(p["left"]) >= len(p["right"]) else "right"
        assert client.post(f"/rater-api/{ann}/votes", json={"item_id": p["item_id"], "vote": vote}).json()["rated"] >= 1
    assert client.post(f"/rater-api/{ann}/votes", json={"item_id": "not-mine", "vote": "left"}).status_code == 404
    assert client.get(f"/v1/rating-tasks/{task['id']}").json()["raters"] == [{"rater": "ann", "rated": 10}, {"rater": "bob", "rated": 0}]
    assert all(p["vote"] in ("left", "right") for p in client.get(f"/rater-api/{ann}").json()["pairs"])  # resume
    rs = client.post(f"/v1/rating-tasks/{task['id']}/rating-set")
    assert rs.status_code == 201 and rs.json()["kind"] == "pairwise" and rs.json()["n_items"] == 10
    # positions really vary across items for one rater
    assert len(Counter(candidate_left(task["id"], "ann", f"q{i}") for i in range(10))) == 2
    assert client.post("/v1/calibrations", json={"rating_set": rs.json()["id"], "judges": ["longer"], "folds": 5}).status_code == 202


def test_access_control_with_keys_on(make_client):
    from judge_service.security.keys import KeyStore

    client = make_client(auth_enabled=True)
    store = KeyStore(client.app.state.ctx.db)
    read = {"X-API-Key": store.create("reader", "read").key}
    write = {"X-API-Key": store.create("writer", "write").key}
    items = [{"id": f"q{i}", "prompt": f"Q {i}?", "outputs": {"base": "a", "tuned": "bb"}} for i in range(3)]
    body = {"rubric": "helpfulness", "judges": ["longer"], "baseline": "base", "candidate": "tuned", "items": items}
    assert client.post("/v1/runs", json=body, headers=read).status_code == 403  # only a write key starts runs
    rid = client.post("/v1/runs", json=body, headers=write).json()["id"]
    assert client.get("/v1/reader/runs").status_code == 401
    assert client.get(f"/v1/reader/runs/{rid}/items", headers=read).status_code == 200
    assert client.post("/v1/rating-tasks", json={"run_id": rid, "raters": ["ann"]}, headers=read).status_code == 403
    token = client.post("/v1/rating-tasks", json={"run_id": rid, "raters": ["ann"]}, headers=write).json()["raters"][0]["token"]
    assert client.get(f"/rater-api/{token}").status_code == 200  # the token alone opens its own task
    assert client.get("/v1/reader/runs", headers={"X-API-Key": token}).status_code == 401  # and nothing else
    assert client.get("/rater-api/jrt_forged").status_code == 404
