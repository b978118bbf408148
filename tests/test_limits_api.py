"""Every input limit answers 413/422 in the contract's shape, naming the limit; per-client rate limits answer 429."""

from __future__ import annotations

import json

import pytest

from judge_service.security.keys import KeyStore
from judge_service.security.ratelimit import RateLimiter

JUDGMENT = {"rubric": "helpfulness", "prompt": "q", "response": "an answer", "judges": ["lengthy-scorer"]}
COMPARISON = {"rubric": "helpfulness", "prompt": "q", "response_a": "a", "response_b": "b", "judges": ["longer"]}


def run_body(n_items: int, **item_patch) -> dict:
    items = [{"id": f"q{i}", "prompt": f"Q{i}?", "outputs": {"base": "short", "tuned": "a longer answer"}} | item_patch
             for i in range(n_items)]
    return {"rubric": "helpfulness", "judges": ["longer"], "baseline": "base", "candidate": "tuned", "items": items}


def error_of(r, status: int, code: str, field: str | None, setting: str | None = None) -> dict:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code and err["field"] == field, err
    if setting:
        assert setting in err["message"], err["message"]
    return err


def test_body_size_limit_with_and_without_content_length(make_client):
    client = make_client(max_body_bytes=2000)
    big = JUDGMENT | {"response": "x" * 5000}
    error_of(client.post("/v1/judgments", json=big), 413, "payload_too_large", "body", "JUDGE_MAX_BODY_BYTES")
    raw = json.dumps(big).encode()
    # A chunked body carries no Content-Length; it must not slip past the limit.
    chunks = (raw[i:i + 512] for i in range(0, len(raw), 512))
    error_of(client.post("/v1/judgments", content=chunks, headers={"content-type": "application/json"}),
             413, "payload_too_large", "body", "JUDGE_MAX_BODY_BYTES")
    small = json.dumps(JUDGMENT).encode()
    r = client.post("/v1/judgments", content=(small[i:i + 10] for i in range(0, len(small), 10)),
                    headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("path, body, field", [
    ("/v1/judgments", JUDGMENT | {"prompt": "p" * 301}, "prompt"),
    ("/v1/judgments", JUDGMENT | {"reference": "r" * 301}, "reference"),
    ("/v1/judgments", JUDGMENT | {"response": "r" * 301}, "response"),
    ("/v1/judgments", {k: v for k, v in JUDGMENT.items() if k != "prompt"}
     | {"messages": [{"role": "user", "content": "m" * 301}]}, "messages.0.content"),
    ("/v1/comparisons", COMPARISON | {"response_b": "b" * 301}, "response_b"),
])
def test_text_length_limit(make_client, path, body, field):
    client = make_client(max_text_chars=300)
    error_of(client.post(path, json=body), 413, "payload_too_large", field, "JUDGE_MAX_TEXT_CHARS")


def test_text_length_limit_in_run_items(make_client):
    client = make_client(max_text_chars=300)
    body = run_body(2)
    body["items"][1]["outputs"]["tuned"] = "t" * 301
    error_of(client.post("/v1/runs", json=body), 413, "payload_too_large", "items.1.outputs.tuned")


def test_items_per_run_limit(make_client):
    client = make_client(max_run_items=5)
    error_of(client.post("/v1/runs", json=run_body(6)), 413, "payload_too_large", "items", "JUDGE_MAX_RUN_ITEMS")
    assert client.post("/v1/runs", json=run_body(5)).status_code == 202


def test_judges_per_request_and_samples_limits(make_client):
    client = make_client(max_judges_per_request=2, max_samples=3)
    three = ["longer", "first", "text-longer"]
    error_of(client.post("/v1/comparisons", json=COMPARISON | {"judges": three}), 422, "invalid_input", "judges",
             "JUDGE_MAX_JUDGES_PER_REQUEST")
    error_of(client.post("/v1/runs", json=run_body(1) | {"judges": three}), 422, "invalid_input", "judges",
             "JUDGE_MAX_JUDGES_PER_REQUEST")
    error_of(client.post("/v1/judgments", json=JUDGMENT | {"samples": 4}), 422, "invalid_input", "samples", "JUDGE_MAX_SAMPLES")
    assert client.post("/v1/comparisons", json=COMPARISON | {"judges": three[:2]}).status_code == 200


def test_rate_limit_per_client_ip_when_auth_is_off(make_client):
    client = make_client(rate_limit_per_minute=60, rate_limit_burst=3)
    codes = [client.get("/v1/judges").status_code for _ in range(5)]
    assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
    r = client.get("/v1/judges")
    err = error_of(r, 429, "rate_limited", None, "JUDGE_RATE_LIMIT_PER_MINUTE")
    assert int(r.headers["retry-after"]) >= 1 and "retry after" in err["message"]
    # Probes and scrapes are not API calls: never limited.
    assert all(client.get(p).status_code == 200 for p in ("/healthz", "/metrics") for _ in range(5))


def test_rate_limit_is_per_key(make_client):
    client = make_client(auth_enabled=True, rate_limit_per_minute=60, rate_limit_burst=2)
    store = KeyStore(client.app.state.ctx.db)
    a, b = store.create("a", "read").key, store.create("b", "read").key
    codes_a = [client.get("/v1/judges", headers={"X-API-Key": a}).status_code for _ in range(3)]
    assert codes_a == [200, 200, 429]
    assert client.get("/v1/judges", headers={"X-API-Key": b}).status_code == 200
    # An unauthenticated flood is refused by auth (401) before it can spend anyone's tokens.
    assert all(client.get("/v1/judges").status_code == 401 for _ in range(5))
    assert client.get("/v1/judges", headers={"X-API-Key": b}).status_code == 200


def test_token_bucket_refills_and_bounds_memory():
    now = [0.0]
    limiter = RateLimiter(per_minute=120, burst=2, max_clients=3, clock=lambda: now[0])
    assert limiter.take("c") == 0 and limiter.take("c") == 0
    wait = limiter.take("c")
    assert wait == pytest.approx(0.5)  # 2 tokens/s: one token back in 0.5 s
    now[0] += 0.5
    assert limiter.take("c") == 0
    for i in range(10):
        limiter.take(f"other{i}")
    assert len(limiter._buckets) <= 3
    with pytest.raises(ValueError):
        RateLimiter(per_minute=0)
