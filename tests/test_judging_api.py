"""The judging core through HTTP: contract fields, both orders, reconciliation, panel, cache, storage."""

from __future__ import annotations

import math

from conftest import provider_of

SHORT = "Paris."
LONG = "The capital of France is Paris, which is also its largest city."


def judgment(client, **kw):
    body = {"rubric": "helpfulness", "prompt": "What is the capital of France?", "response": LONG} | kw
    return client.post("/v1/judgments", json=body)


def comparison(client, **kw):
    body = {"rubric": "helpfulness", "prompt": "What is the capital of France?",
            "response_a": SHORT, "response_b": LONG} | kw
    return client.post("/v1/comparisons", json=body)


def test_judgment_returns_contract_fields_and_is_stored(client):
    r = judgment(client, judges=["lengthy-scorer"])
    assert r.status_code == 200, r.text
    body = r.json()
    for key in ("id", "rubric", "score", "criteria", "length_adjusted_score", "calibrated_score", "judges"):
        assert key in body
    assert body["rubric"]["name"] == "helpfulness" and body["rubric"]["version"] == 1
    assert len(body["rubric"]["hash"]) == 64
    # score_by_length: len(LONG)/20 = 3.2 -> a distribution peaked near 3; weighted mean lies between 2 and 5
    assert 2.0 < body["score"] < 5.0
    assert body["criteria"]["helpfulness"] == body["score"]
    j = body["judges"][0]
    assert j["judge"] == "lengthy-scorer" and j["method"] == "label_probs" and j["cached"] is False
    got = client.get(f"/v1/judgments/{body['id']}")
    assert got.status_code == 200 and got.json()["score"] == body["score"]


def test_probability_weighted_score_matches_hand_computation(client):
    r = judgment(client, judges=["logprob-scorer"])
    j = r.json()["judges"][0]
    assert j["method"] == "logprobs"
    target = len(LONG) / 20
    weights = {n: math.exp(-((n - target) ** 2)) for n in range(1, 11)}
    expected = sum(n * w for n, w in weights.items()) / sum(weights.values())
    assert abs(j["score"] - expected) < 1e-9


def test_comparison_runs_both_orders_for_every_judge(client):
    r = comparison(client, judges=["longer", "first"])
    assert r.status_code == 200, r.text
    body = r.json()
    orders = {(o["judge"], o["order"]) for o in body["orders"]}
    assert orders == {("longer", "AB"), ("longer", "BA"), ("first", "AB"), ("first", "BA")}
    for name in ("longer", "first"):
        log = provider_of(client, name).log
        assert log.count == 2
        texts = [m.content for req in log.requests for m in req.messages if m.role == "user"]
        # the same two responses, shown in both positions
        assert texts[0] != texts[1]
        assert texts[0].index(SHORT) != texts[1].index(SHORT)


def test_position_biased_judge_always_reconciles_to_tie(client):
    for a, b in [(SHORT, LONG), (LONG, SHORT), ("x" * 50, "y" * 10)]:
        body = comparison(client, judges=["first"], response_a=a, response_b=b).json()
        assert body["winner"] == "tie"
        assert body["consistent"] is False
        assert {o["winner"] for o in body["orders"]} == {"A", "B"}
        assert abs(body["prob_a"] - 0.5) < 1e-9


def test_consistent_judge_picks_the_winner_in_both_orders(client):
    body = comparison(client, judges=["longer"]).json()
    assert body["winner"] == "B" and body["consistent"] is True
    assert body["prob_a"] < 0.2
    assert all(o["winner"] == "B" for o in body["orders"])


def test_panel_aggregates_with_majority_and_reports_spread(client):
    body = comparison(client, judges=["longer", "text-longer", "first"]).json()
    assert body["panel"]["method"] == "majority"
    assert body["panel"]["votes"] == {"A": 0, "B": 2, "tie": 1}
    assert body["winner"] == "B"
    assert body["consistent"] is False  # one judge disagreed with itself across orders
    assert body["panel"]["spread"]["n"] == 3 and body["panel"]["spread"]["stdev"] > 0
    scores = judgment(client, judges=["lengthy-scorer", "logprob-scorer"]).json()
    js = [j["score"] for j in scores["judges"]]
    assert abs(scores["score"] - sum(js) / 2) < 1e-9
    assert scores["panel"]["method"] == "mean" and scores["panel"]["spread"]["n"] == 2


def test_identical_request_is_served_from_cache(client):
    first = comparison(client, judges=["longer"]).json()
    calls = provider_of(client, "longer").log.count
    second = comparison(client, judges=["longer"]).json()
    assert provider_of(client, "longer").log.count == calls
    assert all(j["cached"] for j in second["judges"])
    assert second["cost_usd"] == 0.0
    assert second["winner"] == first["winner"] and second["id"] != first["id"]


def test_multi_turn_messages_are_rendered_as_turns(client):
    msgs = [
        {"role": "user", "content": "Name a prime."},
        {"role": "assistant", "content": "7"},
        {"role": "user", "content": "Another, larger one?"},
    ]
    r = client.post("/v1/judgments", json={"rubric": "helpfulness", "messages": msgs, "response": "11",
                                           "judges": ["lengthy-scorer"]})
    assert r.status_code == 200, r.text
    prompt = provider_of(client, "lengthy-scorer").log.requests[-1].messages[-1].content
    assert '<turn role="assistant">\n7\n</turn>' in prompt
    assert "Another, larger one?" in prompt and "<response>\n11\n</response>" in prompt


def test_unparseable_replies_are_reported_unscored_not_zeroed(client):
    body = judgment(client, judges=["garbage", "lengthy-scorer"]).json()
    by = {j["judge"]: j for j in body["judges"]}
    assert by["garbage"]["score"] is None and "unscored" in by["garbage"]["error"]
    assert body["panel"]["unscored"] == ["garbage"]
    assert body["score"] == by["lengthy-scorer"]["score"]
    # bounded retries: one call plus the configured parse retries
    assert provider_of(client, "garbage").log.count == 1 + client.app.state.ctx.settings.parse_retries
    cmp = comparison(client, judges=["garbage"]).json()
    assert cmp["winner"] is None and cmp["prob_a"] is None and cmp["judges"][0]["error"]


def test_samples_report_judge_noise(client):
    body = judgment(client, judges=["lengthy-scorer"], samples=4, temperature=1.0).json()
    j = body["judges"][0]
    assert len(j["samples"]) == 4 and j["sample_spread"]["n"] == 4
    assert abs(j["score"] - sum(j["samples"]) / 4) < 1e-9


def test_restart_keeps_stored_verdicts(make_client):
    c1 = make_client()
    ids = [judgment(c1, judges=["lengthy-scorer"]).json()["id"], comparison(c1, judges=["longer"]).json()["id"]]
    c1.__exit__(None, None, None)
    c2 = make_client()
    assert c2.get(f"/v1/judgments/{ids[0]}").status_code == 200
    assert c2.get(f"/v1/comparisons/{ids[1]}").json()["winner"] == "B"
    # and the call cache survived too: no new provider call for the same comparison
    comparison(c2, judges=["longer"])
    assert provider_of(c2, "longer").log.count == 0


def test_stored_calls_trace_prompt_reply_and_hash(client):
    body = comparison(client, judges=["longer"]).json()
    from judge_service.store.models import JudgeCallRow

    with client.app.state.ctx.db.session() as s:
        rows = s.query(JudgeCallRow).filter_by(owner_id=body["id"]).all()
        assert {r.order for r in rows} == {"AB", "BA"}
        for r in rows:
            assert r.raw_text and r.parsed and r.model == "scripted-longer"
            assert r.params["temperature"] == 0.0 and r.params["seed"] == 0
            assert any("<response_a>" in m[1] for m in r.messages)
