"""Bad input gets a 4xx in the contract's error shape, naming the field; never a 500."""

from __future__ import annotations

import pytest

GOOD = {"rubric": "helpfulness", "prompt": "q", "response": "r", "judges": ["lengthy-scorer"]}
GOOD_CMP = {"rubric": "helpfulness", "prompt": "q", "response_a": "a", "response_b": "b", "judges": ["longer"]}


@pytest.mark.parametrize(
    "patch, status, field",
    [
        ({"rubric": "nope"}, 404, "rubric"),
        ({"rubric": "helpfulness@9"}, 404, "rubric"),
        ({"rubric": "helpfulness@x"}, 422, "rubric"),
        ({"judges": ["ghost"]}, 404, "judges"),
        ({"judges": []}, 422, "judges"),
        ({"judges": ["longer", "longer"]}, 422, "judges"),
        ({"response": None}, 422, "response"),
        ({"response": ""}, 422, "response"),
        ({"response": "   "}, 422, "response"),
        ({"prompt": 5}, 422, "prompt"),
        ({"samples": 0}, 422, "samples"),
        ({"samples": 999}, 422, "samples"),
        ({"temperature": "hot"}, 422, "temperature"),
        ({"response": "x" * 2001}, 413, "response"),
        ({"prompt": None}, 422, "prompt"),
        ({"unknown_field": 1}, 422, "unknown_field"),
        ({"rubric": "correctness"}, 422, "reference"),
        ({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}], "prompt": None}, 422, "messages"),
    ],
)
def test_judgment_bad_input(make_client, patch, status, field):
    client = make_client(max_text_chars=2000)
    body = {k: v for k, v in (GOOD | patch).items() if not (k == "response" and v is None and "response" in patch)}
    r = client.post("/v1/judgments", json=body)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] and err["message"]
    assert err["field"] == field


def test_comparison_missing_response_and_wrong_mode(client):
    r = client.post("/v1/comparisons", json={k: v for k, v in GOOD_CMP.items() if k != "response_b"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "response_b"
    r = client.post("/v1/comparisons", json=GOOD_CMP | {"response_a": ""})
    assert r.status_code == 422 and r.json()["error"]["field"] == "response_a"


def test_not_json_and_oversize_body(make_client):
    client = make_client(max_body_bytes=1000)
    r = client.post("/v1/judgments", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422
    r = client.post("/v1/judgments", json=GOOD | {"response": "x" * 5000})
    assert r.status_code == 413 and r.json()["error"]["field"] == "body"


def test_unknown_ids_and_routes(client):
    assert client.get("/v1/judgments/jdg_missing").status_code == 404
    assert client.get("/v1/comparisons/jdg_missing").json()["error"]["field"] == "id"
    assert client.get("/v1/nothing").json()["error"]["code"] == "not_found"


def test_bad_request_stores_nothing_and_keeps_existing(client):
    ok = client.post("/v1/judgments", json=GOOD).json()["id"]
    client.post("/v1/judgments", json=GOOD | {"rubric": "nope"})
    from judge_service.store.models import JudgmentRow

    with client.app.state.ctx.db.session() as s:
        assert s.query(JudgmentRow).count() == 1
    assert client.get(f"/v1/judgments/{ok}").status_code == 200


def test_health_judges_openapi(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    judges = client.get("/v1/judges").json()
    assert {j["name"] for j in judges} >= {"longer", "first"}
    assert all({"provider", "model", "family", "health"} <= set(j) for j in judges)
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/judgments", "/v1/comparisons", "/v1/rubrics", "/v1/judges", "/healthz"} <= set(paths)
