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


# -- hostile JSON and CSV on every path that reads it (issue 13) -----------------------------------

import json  # noqa: E402

DEEP_JSON = "[" * 100_000 + "]" * 100_000  # RecursionError in json.loads before the limit
LONE = '"a\\ud800b"'  # valid JSON, not text
RUN_SPEC = json.dumps({"rubric": "helpfulness", "judges": ["longer"], "baseline": "base", "candidate": "tuned"})
BIG_FIELD = "b" * 140_000  # over csv's field_size_limit (131,072)


def _error(r, status):
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] and err["message"] and err["field"], err
    return err


UPLOADS = [
    # (route, form data, file field, file name, content, status, field prefix)
    ("/v1/runs/upload", {"spec": RUN_SPEC}, "file", "i.jsonl", DEEP_JSON, 422, "file.line1"),
    ("/v1/runs/upload", {"spec": RUN_SPEC}, "file", "i.jsonl",
     '{"id": "i1", "prompt": ' + LONE + ', "outputs": {"base": "a", "tuned": "b"}}', 422, "file.line1.prompt"),
    ("/v1/runs/upload", {"spec": RUN_SPEC}, "file", "i.jsonl",
     json.dumps({"id": "i1", "prompt": "q", "outputs": {"base": "a", "tuned": "b"},
                 "metadata": {"base": json.loads('{"a":' * 400 + "1" + "}" * 400)}}), 422, "file.line1.metadata"),
    ("/v1/runs/upload", {"spec": RUN_SPEC}, "file", "i.csv", f"id,prompt,base,tuned\ni1,q,a,{BIG_FIELD}\n", 413, "file.line2"),
    ("/v1/runs/upload", {"spec": RUN_SPEC}, "file", "i.csv", "id,prompt,base,tuned,base\ni1,q,a,b,c\n", 422, "file.column.base"),
    ("/v1/runs/upload", {"spec": RUN_SPEC}, "file", "i.csv", "id,prompt,base,tuned\ni1,q,a,b\ni2,q,a,b,extra\n", 422, "file.line3"),
    ("/v1/rating-sets/upload", {"name": "r", "kind": "ordinal"}, "file", "r.jsonl", DEEP_JSON, 422, "file.line1"),
    ("/v1/rating-sets/upload", {"name": "r", "kind": "ordinal"}, "file", "r.json", DEEP_JSON, 422, "file"),
    ("/v1/rating-sets/upload", {"name": "r", "kind": "ordinal"}, "file", "r.jsonl",
     '{"id": "a", "prompt": ' + LONE + ', "response": "r", "ann": 4}', 422, "file.line1.prompt"),
    ("/v1/rating-sets/upload", {"name": "r", "kind": "ordinal"}, "file", "r.csv",
     f"id,prompt,response,ann\na,q,{BIG_FIELD},4\n", 413, "file.line2"),
    ("/v1/rating-sets/upload", {"name": "r", "kind": "ordinal"}, "file", "r.csv",
     "id,prompt,response,ann,ann\na,q,r,4,5\n", 422, "file.column.ann"),
    ("/v1/rating-sets/upload", {"name": "r", "kind": "ordinal"}, "file", "r.csv",
     "id,prompt,response,ann\na,q,r,4,5\n", 422, "file.line2"),
    ("/v1/overlap-indexes/upload", {}, "file", "t.jsonl", DEEP_JSON, 422, "file.line1"),
    ("/v1/overlap-indexes/upload", {}, "file", "t.jsonl", '{"completion": ' + LONE + "}", 422, "file.line1.completion"),
    ("/v1/overlap-indexes/upload", {}, "file", "t.csv", f"id,output\nr1,{BIG_FIELD}\n", 413, "file.line2"),
    ("/v1/overlap-indexes/upload", {}, "file", "t.csv", "id,output,output\nr1,a,b\n", 422, "file.column.output"),
    ("/v1/overlap-indexes/upload", {}, "file", "t.csv", "id,output\nr1,a,b\n", 422, "file.line2"),
    ("/v1/training-logs/analyses", {}, "files", "trainer_state.json", DEEP_JSON, 422, "trainer_state.json"),
    ("/v1/training-logs/analyses", {}, "files", "trainer_log.jsonl",
     '{"current_steps": 1, "loss": 1.0}\n' + DEEP_JSON + "\n", 422, "trainer_log.jsonl"),
    ("/v1/training-logs/analyses", {}, "files", "history.csv", f"_step,loss\n1,{BIG_FIELD}\n", 413, "history.csv.line2"),
    ("/v1/training-logs/analyses", {}, "files", "history.csv", "_step,loss,loss\n1,0.5,0.4\n", 422, "history.csv.column.loss"),
    ("/v1/training-logs/analyses", {}, "files", "history.csv", "_step,loss\n1,0.5,0.4\n", 422, "history.csv.line2"),
]


@pytest.mark.parametrize("route, data, file_field, name, content, status, field", UPLOADS,
                         ids=[f"{u[0].split('/')[2]}-{u[3]}-{i}" for i, u in enumerate(UPLOADS)])
def test_hostile_uploads_are_4xx_naming_the_line(client, route, data, file_field, name, content, status, field):
    r = client.post(route, data=data, files={file_field: (name, content.encode())})
    err = _error(r, status)
    assert err["field"].startswith(field), err
    assert client.get("/healthz").status_code == 200


def test_benchmark_results_files_and_options_are_checked(client):
    files = [("base", ("results_a.json", DEEP_JSON.encode())), ("tuned", ("results_b.json", b"{}"))]
    assert _error(client.post("/v1/benchmark-comparisons", files=files), 422)["field"] == "base"
    r = client.post("/v1/benchmark-comparisons", files=files[1:] * 2, data={"options": '{"margin": ' + LONE + "}"})
    assert _error(r, 422)["field"] == "options.margin"


JSON_BODIES = [
    # (route, body text, status, field)
    ("/v1/judgments", '{"rubric": "helpfulness", "prompt": ' + LONE + ', "response": "r", "judges": ["lengthy-scorer"]}',
     422, "prompt"),
    ("/v1/comparisons", '{"rubric": "helpfulness", "prompt": "q", "response_a": "a", "response_b": ' + LONE + ', "judges": ["longer"]}',
     422, "response_b"),
    ("/v1/judgments", '{"rubric": "helpfulness", "messages": [{"role": "user", "content": ' + LONE + '}], "response": "r"}',
     422, "messages.0.content"),
    ("/v1/runs", json.dumps({"rubric": "helpfulness", "judges": ["longer"], "baseline": "base", "candidate": "tuned",
                             "items": [{"id": "i1", "prompt": "q", "outputs": {"base": "a", "tuned": "b"},
                                        "metadata": {"base": json.loads('{"a":' * 400 + "1" + "}" * 400)}}]}),
     422, "items.0.metadata.base"),
    ("/v1/runs", '{"rubric": ' + DEEP_JSON + "}", 422, "body"),
    ("/v1/eval-sets", '{"name": "e", "items": [{"id": "1", "prompt": ' + LONE + "}]}", 422, "items.0.prompt"),
    ("/v1/imports/alpaca-eval", '{"annotations": ' + "[" * 40 + "]" * 40 + "}", 422, "annotations.0.0.0"),
    ("/v1/rating-sets", '{"name": "x", "kind": "ordinal", "items": [{"id": "a", "prompt": "q", "response": ' + LONE + "}]}",
     422, "items.0.response"),
]


@pytest.mark.parametrize("route, body, status, field", JSON_BODIES, ids=[f"{b[0]}-{i}" for i, b in enumerate(JSON_BODIES)])
def test_hostile_json_bodies_are_422_naming_the_field(client, route, body, status, field):
    r = client.post(route, content=body.encode(), headers={"content-type": "application/json"})
    assert _error(r, status)["field"] == field


def test_surrogate_pairs_and_ordinary_nesting_still_pass(client):
    emoji = '"a\\ud83d\\ude00b"'  # a valid pair: 😀
    r = client.post("/v1/judgments", content=('{"rubric": "helpfulness", "prompt": ' + emoji +
                                              ', "response": "r", "judges": ["lengthy-scorer"]}').encode(),
                    headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    nested = json.loads('{"a":' * 20 + "1" + "}" * 20)
    r = client.post("/v1/runs", json={"rubric": "helpfulness", "judges": ["longer"], "baseline": "base", "candidate": "tuned",
                                      "items": [{"id": "i1", "prompt": "q", "outputs": {"base": "a", "tuned": "bb"},
                                                 "metadata": {"base": nested}}]})
    assert r.status_code == 202, r.text


def test_json_limits_are_pure_functions():
    from judge_service.security import untrusted

    assert not untrusted.nested_deeper_than(b"[" * 32 + b"]" * 32, 32)
    assert untrusted.nested_deeper_than(b"[" * 33 + b"]" * 33, 32)
    assert untrusted.nested_deeper_than(b'{"a": [1, {"b": 2}]}', 2) and not untrusted.nested_deeper_than(b'{"a": [1, {"b": 2}]}', 3)
    assert not untrusted.nested_deeper_than(b"[[], [], [[]]]", 3)  # siblings are one level, not two
    # Brackets in strings make a body look deeper; the parse then clears it.
    assert untrusted.body_problem(b'{"prompt": "' + b"[" * 40 + b'"}') is None
    assert untrusted.json_problem({"a": ["ok", "\ud800"]}) == ("a.1", untrusted.json_problem("\ud800")[1])
    assert untrusted.json_problem({"a": ["\U0001f600"]}) is None
    assert untrusted.body_problem(b'{"x": 1}') is None
    assert untrusted.body_problem(b"[" * 33 + b"]" * 33).field == "0.0.0.0"
