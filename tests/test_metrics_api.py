"""POST /v1/metrics/perplexity and /v1/metrics/overlap through HTTP, including every bad input."""

from __future__ import annotations

import math
import os

import pytest
import sacrebleu

from judge_service.api.metrics import router
from test_perplexity import FakeCompletionsServer, build_tiny_model, model_cache

os.environ.setdefault("HF_HUB_OFFLINE", "1")

PREDICTIONS = ["the cat sat on the mat", "a quick brown fox", "hello world", "paris is in france", ""]
REFERENCES = [["the cat is on the mat", "a cat sat on the mat"], ["the quick brown fox"], ["hello there world"],
              ["Paris is the capital of France"], ["nothing here"]]
BETTER = ["the cat is on the mat", "the quick brown fox", "hello there world", "paris is the capital of france", "nothing"]


def with_metrics(client):
    """The app with the metrics router: added here until app.py includes it."""
    app = client.app
    if not any(getattr(route, "path", "").startswith("/v1/metrics") for route in app.routes):
        app.include_router(router)
    return client


@pytest.fixture
def api(make_client, request, tmp_path_factory):
    return with_metrics(make_client(max_text_chars=500, model_cache_dir=model_cache(request, tmp_path_factory)))


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("api-models")
    return str(build_tiny_model(root / "base", seed=0)), str(build_tiny_model(root / "tuned", seed=1))


# --- overlap --------------------------------------------------------------------------------------

def test_overlap_default_metrics_with_cis(api):
    r = api.post("/v1/metrics/overlap", json={"predictions": PREDICTIONS, "references": REFERENCES, "n_resamples": 200})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["n"] == 5 and body["paired"] == {} and body["per_class"] is None
    assert list(body["metrics"]) == ["bleu", "chrf", "ter", "rouge1", "rouge2", "rougeL", "rougeLsum", "exact_match", "token_f1"]
    streams = [[refs[j] if j < len(refs) else None for refs in REFERENCES] for j in range(2)]
    bleu = body["metrics"]["bleu"]
    assert bleu["score"] == pytest.approx(sacrebleu.corpus_bleu(PREDICTIONS, streams).score)
    assert bleu["signature"].startswith("nrefs:var") and bleu["scale"] == 100 and bleu["per_item"] is None
    assert body["metrics"]["ter"]["higher_is_better"] is False
    for m in body["metrics"].values():
        assert m["ci_low"] <= m["score"] <= m["ci_high"] and m["n"] == 5 and m["confidence"] == 0.95


def test_overlap_paired_and_per_item(api):
    r = api.post("/v1/metrics/overlap", json={
        "predictions": PREDICTIONS, "references": REFERENCES, "predictions_b": BETTER,
        "metrics": ["chrf", "token_f1"], "per_item": True, "n_resamples": 200, "tokenize": "intl", "use_stemmer": True})
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["metrics"]["token_f1"]["per_item"]) == 5
    paired = body["paired"]["token_f1"]
    assert paired["difference"] == pytest.approx(paired["score_b"] - paired["score_a"]) and paired["difference"] > 0
    assert 0 < paired["p_value"] <= 1 and paired["verdict"]


def test_overlap_classification(api):
    r = api.post("/v1/metrics/overlap", json={"predictions": ["A", "B", "A", "tie"], "references": ["A", "B", "B", "tie"],
                                              "metrics": ["classification"], "labels": ["A", "B", "tie"], "n_resamples": 100})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["metrics"]["accuracy"]["score"] == pytest.approx(0.75)
    assert body["per_class"]["B"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2}


# --- perplexity ----------------------------------------------------------------------------------

def test_perplexity_of_a_model_directory(api, tiny_models):
    texts = ["The quick brown fox jumps over the lazy dog.", "naïve café"]
    r = api.post("/v1/metrics/perplexity", json={"model": tiny_models[0], "texts": texts, "max_length": 32, "stride": 16})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["mode"] == "single" and body["remote"] is False and body["comparison"] is None
    result = body["result"]
    assert result["model"] == "base" and result["max_length"] == 32 and result["stride"] == 16
    assert result["prepended_bos"] is False
    total = sum(t["nll_sum"] for t in result["texts"])
    assert result["corpus_perplexity"] == pytest.approx(math.exp(total / result["total_tokens"]))
    assert result["texts"][1]["byte_count"] == len("naïve café".encode())


def test_perplexity_compare_mode(api, tiny_models):
    texts = [f"Sentence number {i} is about {w}." for i, w in enumerate(["cats", "dogs", "rain", "music", "code", "tea"])]
    r = api.post("/v1/metrics/perplexity", json={"base_model": tiny_models[0], "tuned_model": tiny_models[1],
                                                 "texts": texts, "n_resamples": 200})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["mode"] == "compare" and body["result"] is None
    c = body["comparison"]
    assert c["measure"] == "log_perplexity" and len(c["per_text_difference"]) == 6
    assert c["difference"]["n"] == 6 and c["difference"]["ci_low"] <= c["difference"]["estimate"] <= c["difference"]["ci_high"]
    expected = [t["nll_sum"] / t["token_count"] - b["nll_sum"] / b["token_count"]
                for t, b in zip(body["tuned"]["texts"], body["base"]["texts"])]
    assert c["per_text_difference"] == pytest.approx(expected)
    assert c["verdict"].endswith("(95% CI)") or "includes 0" in c["verdict"]
    assert body["base"]["max_length"] == body["tuned"]["max_length"] == 256  # the tiny models' context


@pytest.mark.slow
def test_perplexity_defaults_to_the_embedded_model(api):
    r = api.post("/v1/metrics/perplexity", json={"texts": ["The capital of France is Paris."]})
    assert r.status_code == 200, r.text
    result = r.json()["result"]
    assert result["model"] == "smollm2-135m-instruct" and result["max_length"] == 2048
    assert 1 < result["corpus_perplexity"] < 1000


def test_perplexity_remote_mode(api):
    texts = ["the cat sat on the mat", "one two three"]
    with FakeCompletionsServer() as server:
        r = api.post("/v1/metrics/perplexity", json={"base_url": server.base_url, "model": "served", "texts": texts})
    assert r.status_code == 200, r.text
    result = r.json()["result"]
    assert r.json()["remote"] is True and result["max_length"] is None
    for text, t in zip(texts, result["texts"]):
        nll, n = FakeCompletionsServer.expected(text)
        assert t["token_count"] == n and t["nll_sum"] == pytest.approx(nll)


# --- bad input -------------------------------------------------------------------------------------

@pytest.mark.parametrize("body, status, field", [
    ({"model": "/no/such/model", "texts": ["hi there"]}, 422, "model"),
    ({"texts": []}, 422, "texts"),
    ({"texts": ["x" * 501]}, 413, "texts"),
    ({"texts": ["ok", ""]}, 422, "texts.1"),
    ({"base_model": "/no/such/base", "tuned_model": "/no/such/tuned", "texts": ["hi"]}, 422, "base_model"),
    ({"base_model": "smollm2-135m-instruct", "texts": ["hi"]}, 422, "tuned_model"),
    ({"model": "smollm2-135m-instruct", "base_model": "a", "tuned_model": "b", "texts": ["hi"]}, 422, "model"),
    ({"base_url": "http://127.0.0.1:9/v1", "texts": ["hi"]}, 422, "model"),
    ({"base_url": "http://127.0.0.1:9/v1", "model": "m", "texts": ["hi"], "stride": 4}, 422, "stride"),
    ({"model": "/no/such/model", "texts": ["hi"], "api_key": "k"}, 422, "api_key"),
    ({"texts": ["hi"], "batch_size": 0}, 422, "batch_size"),
    ({"texts": ["hi"], "max_length": 1}, 422, "max_length"),
    ({"texts": ["hi"], "temperature": 1}, 422, "temperature"),
])
def test_perplexity_bad_input(api, body, status, field):
    r = api.post("/v1/metrics/perplexity", json=body)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["field"] == field and err["message"] and err["code"]


def test_perplexity_bad_window_for_a_loaded_model(api, tiny_models):
    for body, field in [({"max_length": 32, "stride": 32}, "stride"), ({"max_length": 4096}, "max_length")]:
        r = api.post("/v1/metrics/perplexity", json={"model": tiny_models[0], "texts": ["some words here"]} | body)
        assert r.status_code == 422 and r.json()["error"]["field"] == field, r.text


GOOD = {"predictions": ["a b c", "d e"], "references": ["a b c", "d f"], "n_resamples": 100}


@pytest.mark.parametrize("patch, status, field", [
    ({"references": ["a b c"]}, 422, "references"),
    ({"metrics": ["bleu", "bertscore"]}, 422, "metrics"),
    ({"metrics": []}, 422, "metrics"),
    ({"predictions": ["x" * 501, "d e"]}, 413, "predictions"),
    ({"references": ["a", ["b", "y" * 501]]}, 413, "references"),
    ({"predictions_b": ["x"]}, 422, "predictions_b"),
    ({"predictions_b": ["x" * 501, "y"]}, 413, "predictions_b"),
    ({"predictions": []}, 422, "predictions"),
    ({"references": ["a", []]}, 422, "references"),
    ({"tokenize": "klingon"}, 422, "tokenize"),
    ({"n_resamples": 5}, 422, "n_resamples"),
    ({"confidence": 1.5}, 422, "confidence"),
    ({"metrics": ["classification"], "references": ["a", ["b", "c"]]}, 422, "references"),
    ({"extra": True}, 422, "extra"),
])
def test_overlap_bad_input(api, patch, status, field):
    r = api.post("/v1/metrics/overlap", json=GOOD | patch)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["field"] == field and err["message"] and err["code"]


def test_remote_perplexity_only_calls_allowed_servers(client):
    r = client.post("/v1/metrics/perplexity", json={"base_url": "http://169.254.169.254/v1", "model": "m", "texts": ["hi"]})
    assert r.status_code == 403
    err = r.json()["error"]
    assert err["field"] == "base_url" and "JUDGE_REMOTE_METRICS_BASE_URLS" in err["message"]
