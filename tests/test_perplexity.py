"""Perplexity: token weighting, sliding windows, bits per byte, the embedded model against a
plain reference computation, compare mode, and remote prompt logprobs over a real socket."""

from __future__ import annotations

import asyncio
import math
import os
import threading
import time
from pathlib import Path

import pytest

from conftest import embedded_model_cache
from judge_service.testing.tiny_lm import save_tiny_llama
from judge_service.errors import InvalidInput, JudgeError
from judge_service.localmodel import EMBEDDED_MODEL, embedded_gguf_path, load_causal_lm
from judge_service.metrics.perplexity import (
    build_result,
    compare_perplexity,
    compare_results,
    perplexity,
    sliding_windows,
)
from judge_service.metrics.remote_logprobs import remote_perplexity

os.environ.setdefault("HF_HUB_OFFLINE", "1")

LONG_TEXT = ("Perplexity measures how surprised a language model is by a text. A sliding window lets a model "
             "with a fixed context score a document longer than that context, one stride at a time. ") * 6
TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Short.",
    LONG_TEXT,
    "Ünïcödé: naïve café, 東京, and an emoji 🙂 cost more bytes than characters.",
    "Rate this answer from one to ten.",
]


# --- helpers shared with test_metrics_api.py ---------------------------------------------------

def build_tiny_model(folder: Path, seed: int = 0) -> Path:
    """A randomly initialised Llama (hidden 32, 2 layers) with a byte-level BPE trained in ms."""
    save_tiny_llama(folder, [LONG_TEXT, *TEXTS] * 20, vocab_size=500, specials=("<unk>", "<s>", "</s>"), seed=seed,
                    max_positions=256)
    return folder


def model_cache(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return embedded_model_cache(request.config, tmp_path_factory)


class FakeCompletionsServer:
    """An OpenAI-compatible /v1/completions on a real loopback socket (uvicorn in a thread).

    Prompt tokens are the text's space-separated words; token i has logprob −(0.5 + 0.1·i), the
    first None (no context). Echo appends one generated token (logprob −9) that callers must
    drop. Model "no-usage" omits usage (callers use text_offset); "broken" answers 500.
    """

    GENERATED_LOGPROB = -9.0

    def __init__(self) -> None:
        import uvicorn
        from fastapi import FastAPI
        from fastapi.responses import JSONResponse

        app = FastAPI()
        self.requests: list[dict] = []

        @app.post("/v1/completions")
        async def completions(body: dict):
            self.requests.append(body)
            if body["model"] == "broken":
                return JSONResponse({"error": {"message": "boom", "type": "server_error"}}, status_code=500)
            words = body["prompt"].split(" ")
            tokens = [w if i == 0 else " " + w for i, w in enumerate(words)] + [" x"]
            offsets, at = [], 0
            for t in tokens:
                offsets.append(at)
                at += len(t)
            logprobs = [None] + [-(0.5 + 0.1 * i) for i in range(1, len(words))] + [self.GENERATED_LOGPROB]
            reply = {"id": "cmpl-1", "object": "text_completion", "created": 0, "model": body["model"],
                     "choices": [{"index": 0, "text": body["prompt"] + " x", "finish_reason": "length",
                                  "logprobs": {"tokens": tokens, "token_logprobs": logprobs, "text_offset": offsets,
                                               "top_logprobs": [None] + [{t: lp} for t, lp in zip(tokens[1:], logprobs[1:])]}}]}
            if body["model"] != "no-usage":
                reply["usage"] = {"prompt_tokens": len(words), "completion_tokens": 1, "total_tokens": len(words) + 1}
            return reply

        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @staticmethod
    def expected(text: str) -> tuple[float, int]:
        n = len(text.split(" "))
        return math.fsum(0.5 + 0.1 * i for i in range(1, n)), n - 1

    def __enter__(self) -> FakeCompletionsServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake completions server did not start")
            time.sleep(0.01)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}/v1"
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


# --- fixtures ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = build_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny-llama")
    return load_causal_lm(folder, tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def embedded(request, tmp_path_factory):
    return load_causal_lm(EMBEDDED_MODEL, model_cache(request, tmp_path_factory))


def reference_nll(loaded, text: str) -> tuple[float, int]:
    """The straightforward computation: one text, no batching, model(ids, labels=ids).loss."""
    import torch

    ids = torch.tensor([loaded.tokenizer(text, add_special_tokens=False)["input_ids"]])
    with torch.no_grad():
        loss = loaded.model(ids, labels=ids).loss.item()
    n = ids.shape[1] - 1
    return loss * n, n


def brute_force_windows(loaded, text: str, max_length: int, stride: int) -> tuple[float, int]:
    """The loop of the transformers guide "Perplexity of fixed-length models", one window per
    forward pass, summing each window's NLL exactly (loss × tokens it scored)."""
    import torch

    ids = torch.tensor(loaded.tokenizer(text, add_special_tokens=False)["input_ids"])
    n, prev_end, total, count = len(ids), 0, 0.0, 0
    for begin in range(0, n, stride):
        end = min(begin + max_length, n)
        target_len = end - prev_end
        window = ids[begin:end].unsqueeze(0)
        labels = window.clone()
        labels[:, :-target_len] = -100
        scored = int((labels[:, 1:] != -100).sum())  # the model shifts labels: position 0 never counts
        with torch.no_grad():
            total += loaded.model(window, labels=labels).loss.item() * scored
        count += scored
        prev_end = end
        if end == n:
            break
    return total, count


# --- local model ---------------------------------------------------------------------------------

def test_batch_size_does_not_change_the_result(tiny):
    results = [perplexity(tiny, TEXTS, max_length=64, stride=32, batch_size=b) for b in (1, 3, 16)]
    for r in results[1:]:
        assert r.total_tokens == results[0].total_tokens
        assert r.corpus_perplexity == pytest.approx(results[0].corpus_perplexity, rel=1e-6)
        for a, b in zip(r.texts, results[0].texts):
            assert a.token_count == b.token_count
            assert a.nll_sum == pytest.approx(b.nll_sum, rel=1e-6)


def test_corpus_perplexity_is_token_weighted(tiny):
    r = perplexity(tiny, TEXTS, max_length=64, stride=32)
    total_nll = sum(t.nll_sum for t in r.texts)
    assert r.total_tokens == sum(t.token_count for t in r.texts)
    assert r.corpus_perplexity == pytest.approx(math.exp(total_nll / r.total_tokens))
    assert r.mean_nll_per_token == pytest.approx(total_nll / r.total_tokens)
    mean_of_texts = sum(t.perplexity for t in r.texts) / len(r.texts)
    assert abs(mean_of_texts - r.corpus_perplexity) > 1e-3 * r.corpus_perplexity  # not the same thing
    # Each text: every token after the first is scored once, whatever the windowing.
    for text, t in zip(TEXTS, r.texts):
        n = len(tiny.tokenizer(text, add_special_tokens=False)["input_ids"])
        assert t.token_count == n - 1
        assert t.perplexity == pytest.approx(math.exp(t.nll_sum / t.token_count))


def test_a_short_text_is_one_window_whatever_the_stride(tiny):
    text = TEXTS[0]
    expected, n = reference_nll(tiny, text)
    assert n < 64
    for stride in (1, 7, 32, 63):
        r = perplexity(tiny, [text], max_length=64, stride=stride)
        assert r.texts[0].token_count == n
        assert r.texts[0].nll_sum == pytest.approx(expected, rel=1e-5)


def test_long_texts_follow_the_sliding_window(tiny):
    n = len(tiny.tokenizer(LONG_TEXT, add_special_tokens=False)["input_ids"])
    assert n > 3 * 64  # several windows
    nll_by_stride = {}
    for stride in (16, 32, 63):
        r = perplexity(tiny, [LONG_TEXT], max_length=64, stride=stride, batch_size=4)
        expected, count = brute_force_windows(tiny, LONG_TEXT, 64, stride)
        assert count == n - 1 == r.texts[0].token_count  # window boundaries: no token lost or repeated
        assert r.texts[0].nll_sum == pytest.approx(expected, rel=1e-5)
        nll_by_stride[stride] = r.texts[0].nll_sum
    assert len({round(v, 6) for v in nll_by_stride.values()}) == 3  # the stride matters for long texts
    # A window as long as the text is the plain full-context computation.
    full, _ = reference_nll(tiny, LONG_TEXT)
    assert perplexity(tiny, [LONG_TEXT], max_length=256, stride=100).texts[0].nll_sum == pytest.approx(full, rel=1e-5)


def test_windows_score_every_token_once():
    for n, length, stride in [(2, 2, 1), (10, 4, 3), (100, 16, 15), (100, 16, 1), (17, 16, 8)]:
        scored = [p for w in sliding_windows(n, length, stride) for p in range(w.score_from, w.end)]
        assert scored == list(range(1, n))
        assert all(w.end - w.begin <= length and w.score_from > w.begin for w in sliding_windows(n, length, stride))
    assert sliding_windows(1, 8, 4) == []


def test_bits_per_byte_counts_utf8_bytes(tiny):
    text = TEXTS[3]
    r = perplexity(tiny, [text], max_length=64, stride=32)
    t = r.texts[0]
    assert t.byte_count == len(text.encode("utf-8")) > len(text)
    assert t.bits_per_byte == pytest.approx(t.nll_sum / math.log(2) / t.byte_count)
    assert r.bits_per_byte == pytest.approx(t.bits_per_byte)


def test_a_one_token_text_has_no_perplexity(tiny):
    r = perplexity(tiny, ["a", TEXTS[0]], max_length=64, stride=32)
    assert r.texts[0].token_count == 0 and r.texts[0].perplexity is None and r.texts[0].bits_per_byte is None
    assert r.corpus_perplexity == pytest.approx(r.texts[1].perplexity)


@pytest.mark.parametrize("kwargs, texts, field", [
    ({"max_length": 64, "stride": 64}, TEXTS, "stride"),
    ({"max_length": 64, "stride": 0}, TEXTS, "stride"),
    ({"max_length": 1, "stride": 1}, TEXTS, "max_length"),
    ({"max_length": 4096}, TEXTS, "max_length"),  # beyond the model's 256 positions
    ({}, [], "texts"),
    ({}, ["fine", ""], "texts"),
    ({"batch_size": 0}, TEXTS, "batch_size"),
])
def test_bad_arguments_name_the_field(tiny, kwargs, texts, field):
    with pytest.raises(InvalidInput) as info:
        perplexity(tiny, texts, **kwargs)
    assert info.value.field == field


# --- the embedded model ----------------------------------------------------------------------------

@pytest.mark.slow
def test_embedded_model_matches_the_plain_reference(embedded):
    texts = TEXTS[:2] + TEXTS[3:] + ["Paris is the capital of France. " * 12]
    r = perplexity(embedded, texts, batch_size=4)
    total_nll = total_n = 0
    for text, t in zip(texts, r.texts):
        nll, n = reference_nll(embedded, text)
        assert t.token_count == n
        assert t.perplexity == pytest.approx(math.exp(nll / n), rel=1e-4)
        total_nll, total_n = total_nll + nll, total_n + n
    assert r.corpus_perplexity == pytest.approx(math.exp(total_nll / total_n), rel=1e-4)
    assert r.model == EMBEDDED_MODEL and r.max_length == 2048 and not r.prepended_bos


@pytest.mark.slow
def test_a_gguf_path_and_a_model_directory_both_load(embedded, tiny, request, tmp_path_factory):
    by_path = load_causal_lm(str(embedded_gguf_path()), model_cache(request, tmp_path_factory))
    assert by_path is embedded  # same file, same weights in memory
    assert perplexity(by_path, TEXTS[:1]).corpus_perplexity == pytest.approx(perplexity(embedded, TEXTS[:1]).corpus_perplexity)
    assert tiny.source is not None and (tiny.source / "config.json").is_file()
    assert perplexity(tiny, TEXTS[:1]).total_tokens > 0


# --- compare mode ----------------------------------------------------------------------------------

def test_the_same_model_twice_shows_no_difference(tiny):
    c = compare_perplexity(tiny, tiny, TEXTS, max_length=64, stride=32, n_resamples=200)
    assert c.measure == "log_perplexity"
    assert all(d == pytest.approx(0.0) for d in c.per_text_difference)
    assert c.verdict.startswith("no detectable difference")


def _result(nll_per_token: list[float], tokens: int = 20, model: str = "m"):
    texts = [f"text number {i} " * 5 for i in range(len(nll_per_token))]
    return build_result(model, texts, [x * tokens for x in nll_per_token], [tokens] * len(texts), max_length=64, stride=32)


def test_a_clearly_better_tuned_model_is_detected():
    import numpy as np

    rng = np.random.default_rng(0)
    base = rng.uniform(2.0, 4.0, 50)
    tuned = base - 0.12 + rng.normal(0, 0.03, 50)
    c = compare_results(_result(list(base)), _result(list(tuned)), n_resamples=500, seed="t")
    assert c.difference.n == 50
    assert c.difference.ci_low < c.difference.estimate < c.difference.ci_high < 0
    assert c.difference.estimate == pytest.approx(float(np.mean(tuned - base)))
    assert c.verdict.startswith("tuned has lower perplexity on these texts: Δ log-ppl −0.1")
    assert "n = 50" in c.verdict
    worse = compare_results(_result(list(tuned)), _result(list(base)), n_resamples=500, seed="t")
    assert worse.verdict.startswith("tuned has higher perplexity")


def test_different_tokenisations_are_compared_in_bits_per_byte():
    a = _result([2.0, 2.5, 3.0], tokens=20)
    b = _result([2.0, 2.5, 3.0], tokens=25)  # more tokens for the same text: another tokenizer
    c = compare_results(a, b, n_resamples=200)
    assert c.measure == "bits_per_byte" and "bits/byte" in c.verdict
    assert c.per_text_difference[0] == pytest.approx(b.texts[0].bits_per_byte - a.texts[0].bits_per_byte)


# --- remote prompt logprobs --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fake_server():
    with FakeCompletionsServer() as server:
        yield server


@pytest.mark.parametrize("model", ["served", "no-usage"])
def test_remote_logprobs_give_the_same_figures(fake_server, model):
    texts = ["the cat sat on the mat", "one two", "naïve café déjà vu"]
    r = asyncio.run(remote_perplexity(fake_server.base_url, model, texts))
    for text, t in zip(texts, r.texts):
        nll, n = FakeCompletionsServer.expected(text)  # the generated token is dropped, the null skipped
        assert t.token_count == n and t.nll_sum == pytest.approx(nll)
        assert t.bits_per_byte == pytest.approx(nll / math.log(2) / len(text.encode("utf-8")))
    total = sum(FakeCompletionsServer.expected(t)[0] for t in texts)
    assert r.corpus_perplexity == pytest.approx(math.exp(total / sum(FakeCompletionsServer.expected(t)[1] for t in texts)))
    sent = fake_server.requests[-1]
    assert sent["echo"] is True and sent["logprobs"] == 1 and sent["max_tokens"] == 1
    assert r.max_length is None and r.model == model


def test_remote_errors_say_what_failed(fake_server):
    with pytest.raises(JudgeError, match="answered 500"):
        asyncio.run(remote_perplexity(fake_server.base_url, "broken", ["a b c"], max_retries=0))
    with pytest.raises(JudgeError, match="could not reach"):
        asyncio.run(remote_perplexity("http://127.0.0.1:9/v1", "m", ["a b c"], max_retries=0, timeout_s=2))
