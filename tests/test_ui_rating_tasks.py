"""The UI's backend through HTTP: the reader's filters and rationales, blind rating tasks and their rating set."""

from __future__ import annotations

import json
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
    # (over 400 item ids: on 10 the coin lands the same way every time once in 512 tasks)
    left = Counter(candidate_left(task["id"], "ann", f"q{i}") for i in range(400))
    assert 140 < left[True] < 260
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


def test_reader_of_a_both_mode_run_points_and_evaluations_list(client):
    """Absolute grades' rationales say which output they graded; points carry both scores; evaluations are listed."""
    items = [{"id": f"q{i}", "prompt": f"Q {i}?", "outputs": {"base": "b" * (i + 1), "tuned": "tuned answer " * (i + 1)}}
             for i in range(4)]
    rid = client.post("/v1/runs", json={"rubric": "helpfulness", "judges": ["lengthy-scorer"], "mode": "both",
                                        "baseline": "base", "candidate": "tuned", "items": items}).json()["id"]
    wait_done(client, rid)
    page = client.get(f"/v1/reader/runs/{rid}/items", params={"ids": "q2"})
    assert page.status_code == 200, page.text
    graded = {(r["order"], r["system"]) for r in page.json()["items"][0]["rationales"]}
    assert graded == {("AB", None), ("BA", None), (None, "baseline"), (None, "candidate")}
    points = {p["id"]: p for p in client.get(f"/v1/reader/runs/{rid}/points").json()}
    stored = {r["id"]: r["result"]["absolute"] for r in client.get(f"/v1/runs/{rid}/items").json()}
    for item_id, p in points.items():
        assert p["baseline_score"] == stored[item_id]["baseline"]["score"]
        assert p["candidate_score"] == stored[item_id]["candidate"]["score"]
        assert p["score_difference"] == p["candidate_score"] - p["baseline_score"]
    ev = client.post("/v1/evaluations", json={"baseline": "base", "candidate": "tuned", "name": "listed",
                                              "layers": {"judge": {"run_id": rid}}}).json()
    listed = client.get("/v1/reader/evaluations").json()
    assert [(e["id"], e["name"], e["layers"]) for e in listed] == [(ev["id"], "listed", ["judge"])]


def test_rating_tasks_from_the_client_and_the_cli(make_settings):
    """`judge rate create|status|list|rating-set` and the client methods they use, against a live service."""
    from typer.testing import CliRunner

    from judge_client import JudgeClient
    from judge_service.app import create_app
    from judge_service.cli import app as cli
    from test_client import serve

    with serve(create_app(make_settings())) as url, JudgeClient(url) as jc:
        items = [{"id": f"q{i}", "prompt": f"Q {i}?", "outputs": {"base": "a" * (i + 1), "tuned": "bb" * (i + 1)}} for i in range(5)]
        run = jc.create_run(items, baseline="base", candidate="tuned", rubric="helpfulness", judges=["longer"])
        jc.wait_for_run(run.id, timeout=60)
        runner = CliRunner()
        res = runner.invoke(cli, ["rate", "create", run.id, "--rater", "ann", "--rater", "bob", "--n-items", "3", "--url", url],
                            catch_exceptions=False)
        assert res.exit_code == 0, res.output
        links = dict(line.split(": ", 1) for line in res.stdout.splitlines()[1:])
        assert set(links) == {"ann", "bob"} and all(v.startswith(f"{url}/ui/rate.html#token=jrt_") for v in links.values())
        task_id = res.stdout.split()[2].rstrip(":")
        for rater, token in ((r, link.split("token=")[1]) for r, link in links.items()):
            pairs = jc._http.get(f"/rater-api/{token}").json()["pairs"]
            for p in pairs:  # both raters always pick the left answer as shown
                assert jc._http.post(f"/rater-api/{token}/votes", json={"item_id": p["item_id"], "vote": "left"}).status_code == 200
        task = jc.get_rating_task(task_id)
        assert [(r.rater, r.rated) for r in task.raters] == [("ann", 3), ("bob", 3)] and task.rated == 6
        assert [t.id for t in jc.rating_tasks(run.id)] == [task_id] and jc.rating_tasks("run_other") == []
        res = runner.invoke(cli, ["rate", "status", task_id, "--url", url], catch_exceptions=False)
        assert res.exit_code == 0 and "3 / 3" in res.stdout and "agreement: Krippendorff's alpha" in res.stdout
        res = runner.invoke(cli, ["rate", "list", "--run", run.id, "--json", "--url", url], catch_exceptions=False)
        assert [t["id"] for t in json.loads(res.stdout)] == [task_id]
        res = runner.invoke(cli, ["rate", "create", run.id, "--rater", "cy", "--mode", "absolute", "--url", url],
                            catch_exceptions=False)
        assert res.exit_code == 0 and "5 items of run" in res.stdout and "absolute" in res.stdout
        assert {t.mode: t.n_units for t in jc.rating_tasks(run.id)} == {"pairwise": 3, "absolute": 10}
        res = runner.invoke(cli, ["rate", "rating-set", task_id, "--url", url], catch_exceptions=False)
        assert res.exit_code == 0 and "3 items, kind pairwise" in res.stdout
        assert jc.get_rating_task(task_id).rating_set_id == res.stdout.split()[2].rstrip(":")
        res = runner.invoke(cli, ["rate", "status", "rt_nope", "--url", url])
        assert res.exit_code == 1 and "no rating task with id 'rt_nope'" in res.output


def test_absolute_rating_on_the_rubric_scale_becomes_an_ordinal_rating_set(make_client, db_url):
    """Each output alone, system hidden, scored on the rubric's anchored 1-10 scale; ordinal alpha; an ordinal set.
    On SQLite and PostgreSQL (the tasks' tables, the mode table, JSON columns)."""
    import krippendorff

    client = make_client(database_url=db_url)
    rid = _run(client, n=4)
    task = client.post("/v1/rating-tasks", json={"run_id": rid, "raters": ["ann", "bob"], "mode": "absolute"}).json()
    assert task["mode"] == "absolute" and task["n_items"] == 4
    tokens = {r["rater"]: r["token"] for r in task["raters"]}
    page = client.get(f"/rater-api/{tokens['ann']}").json()
    assert page["mode"] == "absolute" and page["scale"] == list(range(1, 11)) and page["pairs"] == []
    assert sorted(u["unit_id"] for u in page["units"]) == sorted(f"q{i}#{s}" for i in range(4) for s in "AB")
    assert "10" in page["criteria"][0]["anchors"]  # the anchors the page shows
    assert "base" not in json.dumps(page) and "tuned" not in json.dumps(page)
    bad = client.post(f"/rater-api/{tokens['ann']}/votes", json={"item_id": "q0#A", "vote": "11"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "vote"
    assert client.post(f"/rater-api/{tokens['ann']}/votes", json={"item_id": "q0", "vote": "5"}).status_code == 404
    scores = {"ann": {"q0#A": 3, "q0#B": 7, "q1#A": 4, "q1#B": 8, "q2#A": 2, "q2#B": 9, "q3#A": 5, "q3#B": 5},
              "bob": {"q0#A": 2, "q0#B": 8, "q1#A": 4, "q1#B": 6, "q2#A": 3, "q2#B": 9, "q3#A": 6, "q3#B": 4}}
    for rater, given in scores.items():
        for unit, score in given.items():
            r = client.post(f"/rater-api/{tokens[rater]}/votes", json={"item_id": unit, "vote": str(score)})
            assert r.status_code == 200, r.text
    assert {u["unit_id"]: u["score"] for u in client.get(f"/rater-api/{tokens['bob']}").json()["units"]} == \
        {k: str(v) for k, v in scores["bob"].items()}  # resume shows the rater's own scores
    out = client.get(f"/v1/rating-tasks/{task['id']}").json()
    assert out["n_units"] == 8 and out["raters"] == [{"rater": "ann", "rated": 8}, {"rater": "bob", "rated": 8}]
    units = sorted(scores["ann"])
    expected = krippendorff.alpha(reliability_data=[[scores[r][u] for u in units] for r in ("ann", "bob")],
                                  level_of_measurement="ordinal", value_domain=list(range(1, 11)))
    assert out["agreement"]["level"] == "ordinal"
    assert abs(out["agreement"]["alpha"] - expected) < 1e-9
    rs = client.post(f"/v1/rating-tasks/{task['id']}/rating-set")
    assert rs.status_code == 201 and rs.json()["kind"] == "ordinal" and rs.json()["n_items"] == 8
    assert client.post("/v1/rating-tasks", json={"run_id": rid, "raters": ["x"], "mode": "stars"}).status_code == 422


def test_the_clients_rating_task_models_match_the_service_schema(client):
    """Every field the client declares is documented, and every required field is declared (as for the core models)."""
    import judge_client._rating_tasks as models

    components = client.get("/openapi.json").json()["components"]["schemas"]
    for client_name, service_name in (("RatingTask", "RatingTaskOut"), ("RatingTaskCreated", "RatingTaskCreated"),
                                      ("RaterLink", "RaterLink"), ("RaterProgress", "RaterProgress")):
        schema, declared = components[service_name], set(getattr(models, client_name).model_fields)
        assert declared - set(schema["properties"]) == set(), client_name
        assert set(schema.get("required", [])) - declared == set(), client_name
