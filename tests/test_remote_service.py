"""The service with one judge of each remote provider, all pointed at the fake judge server.

Everything between the HTTP API and the socket is real: the app, the engine, the cache, the
limits wrapper, the official SDKs.
"""

from __future__ import annotations

import pytest

from conftest import wait_done
from judge_service.testing.fake_server import FakeJudgeServer
from judge_service.testing.policies import prefer_longer, score_by

KEY = "sk-test-service-0123456789abcdef"
ENV = "JUDGE_TEST_SERVICE_KEY"
PROVIDERS = ("openai", "openai_compatible", "anthropic")
SHORT = "Paris."
LONG = "The capital of France is Paris, which is also its largest city."


def policy(view, rng):
    # Pairwise: the longer response wins. Absolute: one point per 10 characters.
    if view.response_a is not None:
        return prefer_longer(view, rng)
    return score_by(lambda text: len(text) / 10)(view, rng)


@pytest.fixture(scope="module")
def server():
    with FakeJudgeServer(policy, api_key=KEY, model_suffix="-fake") as s:
        yield s


@pytest.fixture
def service(server, make_client, monkeypatch):
    monkeypatch.setenv(ENV, KEY)
    server.reset()
    judges = []
    for provider in PROVIDERS:
        url = server.anthropic_base_url if provider == "anthropic" else server.openai_base_url
        judges.append({"name": f"remote-{provider}", "provider": provider, "model": f"{provider}-judge",
                       "family": provider, "base_url": url, "api_key_env": ENV, "timeout_s": 10,
                       "structured_output": True, "price": {"input_per_mtok": 1.0, "output_per_mtok": 4.0}})
    return make_client({"judges": judges, "default_panel": [j["name"] for j in judges]})


def test_remote_judges_are_listed_healthy(service):
    judges = {j["name"]: j for j in service.get("/v1/judges").json()}
    assert {judges[f"remote-{p}"]["health"] for p in PROVIDERS} == {"ok"}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_judgment_through_each_provider_then_served_from_cache(service, server, provider):
    body = {"rubric": "helpfulness", "judges": [f"remote-{provider}"],
            "prompt": "What is the capital of France?", "response": LONG}
    first = service.post("/v1/judgments", json=body)
    assert first.status_code == 200, first.text
    got = first.json()
    j = got["judges"][0]
    assert j["model"] == f"{provider}-judge-fake" and j["cached"] is False
    assert 5.5 <= got["score"] <= 7.5  # len(LONG) / 10 = 6.4
    assert got["cost_usd"] > 0
    calls = server.calls
    assert calls >= 1

    again = service.post("/v1/judgments", json=body).json()
    assert server.calls == calls  # not one new call
    assert again["score"] == got["score"] and all(x["cached"] for x in again["judges"])
    assert again["cost_usd"] == 0.0


@pytest.mark.parametrize("provider", PROVIDERS)
def test_comparison_through_each_provider_runs_both_orders(service, server, provider):
    body = {"rubric": "helpfulness", "judges": [f"remote-{provider}"],
            "prompt": "What is the capital of France?", "response_a": SHORT, "response_b": LONG}
    r = service.post("/v1/comparisons", json=body)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["winner"] == "B" and got["consistent"] is True
    assert {o["order"] for o in got["orders"]} == {"AB", "BA"}
    assert server.calls == 2
    assert got["cost_usd"] > 0

    again = service.post("/v1/comparisons", json=body).json()
    assert server.calls == 2 and again["winner"] == "B" and again["cost_usd"] == 0.0


def test_a_bad_key_is_a_judge_auth_error_without_the_key(server, make_client, monkeypatch):
    monkeypatch.setenv(ENV, "sk-wrong-9876543210fedcba")
    server.reset()
    client = make_client({"judges": [{"name": "bad", "provider": "openai", "model": "m", "api_key_env": ENV,
                                      "base_url": server.openai_base_url},
                                     {"name": "ok", "provider": "scripted", "model": "scripted-1"}]})
    body = {"rubric": "helpfulness", "judges": ["bad"], "prompt": "q", "response": "a"}
    # Every judge failed: no verdict, a 502 naming the judge with the provider's (redacted) reason.
    r = client.post("/v1/judgments", json=body)
    text = r.text
    assert "sk-wrong" not in text and "fedcba" not in text
    assert server.calls == 1  # not retried
    assert r.status_code == 502 and r.json()["error"]["code"] == "judge_auth_error"
    message = r.json()["error"]["message"]
    assert "'bad'" in message and "HTTP 401" in message and "[REDACTED]" in message and f"${ENV}" in message
    r = client.post("/v1/comparisons", json={"rubric": "helpfulness", "judges": ["bad"], "prompt": "q",
                                             "response_a": "a", "response_b": "b"})
    assert r.status_code == 502 and r.json()["error"]["code"] == "judge_auth_error"
    # One judge of two failed: the verdict stands; the engine reports the failed judge (unscored), with the reason.
    r = client.post("/v1/judgments", json=body | {"judges": ["bad", "ok"]})
    text = r.text
    assert r.status_code == 200 and "sk-wrong" not in text and "fedcba" not in text
    assert r.json()["panel"]["unscored"] == ["bad"] and r.json()["score"] is not None
    error = r.json()["judges"][0]["error"]
    assert "HTTP 401" in error and "[REDACTED]" in error and f"${ENV}" in error


def _run_until_done(client, body: dict, timeout: float = 60.0) -> dict:
    r = client.post("/v1/runs", json=body)
    assert r.status_code == 202, r.text
    return wait_done(client, r.json()["id"], timeout)


def _run_body(judge: str, n: int = 4) -> dict:
    items = [{"id": f"q{i}", "prompt": f"Question {i}?", "outputs": {"base": f"Answer {i}.",
                                                                      "tuned": f"A fuller answer {i}, with detail."}}
             for i in range(n)]
    return {"rubric": "helpfulness", "judges": [judge], "mode": "pairwise", "baseline": "base", "candidate": "tuned",
            "items": items}


def test_run_cost_is_the_sum_of_its_paid_calls_and_a_rerun_is_free(service, server):
    status = _run_until_done(service, _run_body("remote-openai"))
    cost = status["cost"]
    assert status["progress"]["done"] == 4
    # Two orders per item, all answered by the fake server, none cached.
    assert (cost["calls"], cost["cached_calls"], cost["failed_calls"], cost["unpriced_calls"]) == (8, 0, 0, 0)
    assert server.calls == 8
    assert cost["input_tokens"] > 0 and cost["output_tokens"] > 0
    # The price table: $1 per million input tokens, $4 per million output tokens.
    assert cost["usd"] == pytest.approx((cost["input_tokens"] * 1.0 + cost["output_tokens"] * 4.0) / 1e6)
    # The same total as the per-verdict costs the engine stored with each item (a separate path).
    items = service.get(f"/v1/runs/{status['id']}/items").json()
    per_item = sum(j["cost_usd"] for it in items for j in it["result"]["pairwise"]["judges"])
    assert cost["usd"] == pytest.approx(per_item)
    assert cost["by_judge"]["remote-openai"]["usd"] == cost["usd"]
    report = service.get(f"/v1/runs/{status['id']}/report").json()
    assert report["cost"]["usd"] == cost["usd"]

    again = _run_until_done(service, _run_body("remote-openai"))["cost"]
    assert server.calls == 8  # nothing sent
    assert (again["calls"], again["cached_calls"], again["usd"], again["input_tokens"]) == (0, 8, 0.0, 0)


def test_run_cost_is_unknown_not_zero_without_a_price_and_failed_calls_are_counted(server, make_client, monkeypatch):
    monkeypatch.setenv(ENV, KEY)
    monkeypatch.setenv("JUDGE_TEST_WRONG_KEY", "sk-wrong-0000")
    server.reset()
    client = make_client({"judges": [
        {"name": "unpriced", "provider": "openai", "model": "m", "base_url": server.openai_base_url, "api_key_env": ENV},
        # Another model: the same model at the same URL would be served from the first judge's cache.
        {"name": "badkey", "provider": "openai", "model": "m2", "base_url": server.openai_base_url,
         "api_key_env": "JUDGE_TEST_WRONG_KEY", "price": {"input_per_mtok": 1.0, "output_per_mtok": 2.0}}]})
    cost = _run_until_done(client, _run_body("unpriced", n=3))["cost"]
    assert cost["usd"] is None and cost["unpriced_calls"] == 6 and cost["calls"] == 6 and cost["input_tokens"] > 0
    failed = _run_until_done(client, _run_body("badkey", n=2))["cost"]
    assert (failed["failed_calls"], failed["calls"], failed["usd"]) == (4, 0, 0.0)


def test_a_price_table_by_model_prices_every_judge_of_that_model(server, make_client, monkeypatch):
    monkeypatch.setenv(ENV, KEY)
    server.reset()
    common = {"provider": "openai", "base_url": server.openai_base_url, "api_key_env": ENV}
    client = make_client({
        "prices": {"gpt-table": {"input_per_mtok": 2.0, "output_per_mtok": 8.0}},
        "judges": [{"name": "tabled", "model": "gpt-table"} | common,
                   {"name": "own-price", "model": "gpt-table", "price": {"input_per_mtok": 1.0, "output_per_mtok": 1.0}} | common,
                   {"name": "other-model", "model": "gpt-other"} | common]})
    body = {"rubric": "helpfulness", "prompt": "What is the capital of France?", "response": LONG}
    tabled = client.post("/v1/judgments", json=body | {"judges": ["tabled"]}).json()["judges"][0]
    usage = tabled["usage"]
    assert tabled["cost_usd"] == pytest.approx((usage["input_tokens"] * 2.0 + usage["output_tokens"] * 8.0) / 1e6)
    assert tabled["cost_usd"] > 0
    # A judge's own price wins over the table; a model missing from the table stays unknown. (Another
    # response each time: the same model, URL and prompt would be answered from the cache, at cost 0.)
    own = client.post("/v1/judgments", json=body | {"judges": ["own-price"], "response": LONG + " Yes."}).json()["judges"][0]
    assert own["cached"] is False
    assert own["cost_usd"] == pytest.approx((own["usage"]["input_tokens"] + own["usage"]["output_tokens"]) / 1e6)
    other = client.post("/v1/judgments", json=body | {"judges": ["other-model"]}).json()["judges"][0]
    assert other["cached"] is False and other["cost_usd"] is None


def graded_preference(view, rng):
    # The longer response is better with P 0.7, the other with 0.2, a tie 0.1: known logprobs.
    if view.response_a is None:
        return score_by(lambda text: len(text) / 10)(view, rng)
    first_longer = len(view.response_a) > len(view.response_b)
    return {"winner": {"A": 0.7 if first_longer else 0.2, "B": 0.2 if first_longer else 0.7, "tie": 0.1}}


@pytest.mark.parametrize("provider, method", [("openai", "logprobs"), ("openai_compatible", "logprobs"),
                                              ("anthropic", "structured")])
def test_prob_a_comes_from_the_judges_logprobs_and_the_method_says_so(make_client, monkeypatch, provider, method):
    monkeypatch.setenv(ENV, KEY)
    with FakeJudgeServer(graded_preference, api_key=KEY) as s:
        url = s.anthropic_base_url if provider == "anthropic" else s.openai_base_url
        client = make_client({"judges": [{"name": "j", "provider": provider, "model": "m", "base_url": url,
                                          "api_key_env": ENV, "structured_output": True}]})
        got = client.post("/v1/comparisons", json={"rubric": "helpfulness", "judges": ["j"], "prompt": "Capital of France?",
                                                   "response_a": SHORT, "response_b": LONG}).json()
    assert got["winner"] == "B" and {o["method"] for o in got["orders"]} == {method}
    if method == "logprobs":
        # By hand: A (the shorter) shown first, P(A better) = P("A") + P("tie") / 2 = 0.2 + 0.05; shown
        # second, the judge's "B" is our A: again 0.2 + 0.05. The mean of the two orders is 0.25.
        assert got["prob_a"] == pytest.approx(0.25, abs=1e-6)
    else:
        # No logprobs in the Messages API: each order's verdict counts whole, so P(A better) is 0.
        assert got["prob_a"] == 0.0
