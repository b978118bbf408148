"""The local judge's constrained label scoring, checked against a brute-force computation."""

from __future__ import annotations

import asyncio
import json
import math
import os
from pathlib import Path

import pytest

from conftest import embedded_model_cache
from judge_service.testing.tiny_lm import save_tiny_llama
from judge_service import localmodel
from judge_service.errors import InvalidInput, JudgeError
from judge_service.judges.base import AnswerField, ChatMessage, JudgeProvider, JudgeRequest
from judge_service.judges.config import JudgeSpec
from judge_service.judges.local import LocalProvider, render_chat
from judge_service.localmodel import EMBEDDED_MODEL
from judge_service.settings import Settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")

SCORE_1_TO_10 = AnswerField("score", tuple(str(i) for i in range(1, 11)))
WINNER = AnswerField("winner", ("A", "B", "tie"))
MESSAGES = (
    ChatMessage("system", "You grade answers."),
    ChatMessage("user", "Rate this answer. Answer: 42."),
)
# The tiny tokenizer has no chat template, so the provider falls back to ChatML.
CHATML_PROMPT = "<|im_start|>system\nYou grade answers.<|im_end|>\n<|im_start|>user\nRate this answer. Answer: 42.<|im_end|>\n<|im_start|>assistant\n"


JUDGE_CORPUS = ['{"score": 10}', '{"winner": "tie"}', "Rate this answer."] * 50 + [str(i) for i in range(200)]


def build_tiny_llama(folder: Path, *, uniform: bool = False) -> None:
    """A 2-layer, hidden-32 Llama with a 400-token byte-level BPE trained in milliseconds.

    Its BPE merges " 10" into one token but not " 1", so "10" and "1" tokenise differently in
    context: a good test of scoring continuations in context. ``uniform`` zeroes the final norm
    so every next-token distribution is exactly uniform over the vocabulary. A wide init
    (0.5) makes the next-token distributions peaked, so label probabilities differ a lot.
    """
    save_tiny_llama(folder, JUDGE_CORPUS, initializer_range=0.5, uniform=uniform)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("models") / "tiny-llama"
    build_tiny_llama(folder)
    return folder


def provider_for(model_dir: Path | str, tmp_path: Path, **options) -> LocalProvider:
    spec = JudgeSpec(name="local-test", provider="local", model=str(model_dir), options=options)
    return LocalProvider(spec, Settings(data_dir=tmp_path, model_cache_dir=tmp_path / "models"))


def complete(provider: LocalProvider, fields: tuple[AnswerField, ...], **params):
    return asyncio.run(provider.complete(JudgeRequest(messages=MESSAGES, fields=fields, **params)))


def brute_force_probs(model_dir: Path, answer_prefix: str, values: list[str]) -> list[float]:
    """softmax over candidates of the FULL sequence log-likelihood, one uncached forward pass each.

    The shared part of the sequences contributes the same amount to every candidate, so this
    equals the normalised continuation probabilities without relying on any caching or on how
    the continuation boundary is tokenised.
    """
    import torch

    loaded = localmodel.load_causal_lm(model_dir, model_dir.parent / "unused-cache")
    totals = []
    for value in values:
        ids = loaded.tokenizer(CHATML_PROMPT + answer_prefix + value, add_special_tokens=False)["input_ids"]
        with torch.inference_mode():
            logprobs = torch.log_softmax(loaded.model(torch.tensor([ids])).logits[0].double(), dim=-1)
        totals.append(sum(float(logprobs[i - 1, ids[i]]) for i in range(1, len(ids))))
    top = max(totals)
    weights = [math.exp(t - top) for t in totals]
    return [w / sum(weights) for w in weights]


def test_is_a_judge_provider(tiny_dir: Path, tmp_path: Path) -> None:
    provider = provider_for(tiny_dir, tmp_path)
    assert isinstance(provider, JudgeProvider)
    assert provider.model == "tiny-llama"


@pytest.mark.parametrize("max_candidate_batch", [1, 3, 16])
def test_score_probs_equal_brute_force(tiny_dir: Path, tmp_path: Path, max_candidate_batch: int) -> None:
    reply = complete(provider_for(tiny_dir, tmp_path, max_candidate_batch=max_candidate_batch), (SCORE_1_TO_10,))
    probs = reply.label_probs["score"]
    assert list(probs) == list(SCORE_1_TO_10.labels)
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-9)
    expected = brute_force_probs(tiny_dir, '{"score": ', [label + "}" for label in SCORE_1_TO_10.labels])
    for label, want in zip(SCORE_1_TO_10.labels, expected):
        assert probs[label] == pytest.approx(want, abs=1e-5)
    best = max(probs, key=probs.get)
    assert reply.text == f'{{"score": {best}}}' and reply.structured == {"score": int(best)}
    assert json.loads(reply.text) == reply.structured
    assert reply.model == "tiny-llama" and reply.latency_ms > 0
    assert reply.usage.input_tokens == len(localmodel.load_causal_lm(tiny_dir, tmp_path).tokenizer(CHATML_PROMPT)["input_ids"])
    assert reply.usage.output_tokens > 0


def test_multi_digit_labels_are_exact(tmp_path: Path) -> None:
    # With every next-token distribution uniform over V tokens, a continuation of k tokens has
    # probability V**-k. In context " 10" is one token and "}" another (k=2), while "1}" is
    # " ", "1", "}" (k=3): so P("10") = V / (V + 9) exactly. Scoring "1" without its terminator
    # would instead give it the mass of every label that starts with "1".
    build_tiny_llama(tmp_path / "uniform", uniform=True)
    reply = complete(provider_for(tmp_path / "uniform", tmp_path), (SCORE_1_TO_10,))
    vocab = 400
    probs = reply.label_probs["score"]
    assert probs["10"] == pytest.approx(vocab / (vocab + 9), rel=1e-6)
    for label in "123456789":
        assert probs[label] == pytest.approx(1 / (vocab + 9), rel=1e-6)
    assert reply.structured == {"score": 10}


def test_string_labels_are_quoted_and_scored_with_their_closing_quote(tiny_dir: Path, tmp_path: Path) -> None:
    field = AnswerField("winner", ("A", "B", "tie", 'say "hi"'))
    reply = complete(provider_for(tiny_dir, tmp_path), (field,))
    expected = brute_force_probs(tiny_dir, '{"winner": ', [json.dumps(label) + "}" for label in field.labels])
    assert list(reply.label_probs["winner"].values()) == pytest.approx(expected, abs=1e-5)
    assert json.loads(reply.text) == reply.structured and reply.structured["winner"] in field.labels


def test_multi_field_answer_scores_each_field_after_the_chosen_labels(tiny_dir: Path, tmp_path: Path) -> None:
    one_to_five = tuple("12345")
    fields = (AnswerField("coherence", one_to_five), AnswerField("fluency", one_to_five), WINNER)
    reply = complete(provider_for(tiny_dir, tmp_path), fields)
    assert list(reply.structured) == ["coherence", "fluency", "winner"]
    assert json.loads(reply.text) == reply.structured
    coherence, fluency = reply.structured["coherence"], reply.structured["fluency"]
    checks = [
        ("coherence", '{"coherence": ', [v + "," for v in one_to_five]),
        ("fluency", f'{{"coherence": {coherence}, "fluency": ', [v + "," for v in one_to_five]),
        ("winner", f'{{"coherence": {coherence}, "fluency": {fluency}, "winner": ', [json.dumps(v) + "}" for v in WINNER.labels]),
    ]
    for name, prefix, values in checks:
        got = reply.label_probs[name]
        assert sum(got.values()) == pytest.approx(1.0, abs=1e-9)
        assert list(got.values()) == pytest.approx(brute_force_probs(tiny_dir, prefix, values), abs=1e-5)
        assert str(reply.structured[name]) == max(got, key=got.get)


def test_temperature_zero_is_deterministic(tiny_dir: Path, tmp_path: Path) -> None:
    provider = provider_for(tiny_dir, tmp_path)
    first = complete(provider, (SCORE_1_TO_10, WINNER), sample_index=0)
    for index in (0, 1, 2):
        again = complete(provider, (SCORE_1_TO_10, WINNER), sample_index=index, seed=index)
        assert (again.text, again.label_probs) == (first.text, first.label_probs)


def test_samples_are_reproducible_and_differ_by_sample_index(tiny_dir: Path, tmp_path: Path) -> None:
    provider = provider_for(tiny_dir, tmp_path)
    draws = [complete(provider, (SCORE_1_TO_10,), temperature=3.0, seed=7, sample_index=i).text for i in range(12)]
    assert [complete(provider, (SCORE_1_TO_10,), temperature=3.0, seed=7, sample_index=i).text for i in range(12)] == draws
    assert len(set(draws)) > 2
    other_seed = [complete(provider, (SCORE_1_TO_10,), temperature=3.0, seed=8, sample_index=i).text for i in range(12)]
    assert other_seed != draws


def test_draws_follow_the_tempered_distribution(tmp_path: Path) -> None:
    # Uniform model: P("10") = 400/409 untempered; at temperature T the draw probabilities are
    # softmax(logp / T), so at T=4 P("10") = 400**0.25 / (400**0.25 + 9) ~ 0.33.
    build_tiny_llama(tmp_path / "uniform", uniform=True)
    provider = provider_for(tmp_path / "uniform", tmp_path)
    n = 300
    tens = sum(complete(provider, (SCORE_1_TO_10,), temperature=4.0, seed=1, sample_index=i).structured["score"] == 10 for i in range(n))
    expected = 400**0.25 / (400**0.25 + 9)
    assert abs(tens / n - expected) < 4 * math.sqrt(expected * (1 - expected) / n)


def test_concurrent_calls_share_one_model_safely(tiny_dir: Path, tmp_path: Path) -> None:
    provider = provider_for(tiny_dir, tmp_path)

    async def many():
        request = JudgeRequest(messages=MESSAGES, fields=(SCORE_1_TO_10, WINNER))
        return await asyncio.gather(*(provider.complete(request) for _ in range(6)))

    replies = asyncio.run(many())
    assert len({(r.text, json.dumps(r.label_probs)) for r in replies}) == 1


def test_health_never_loads_the_model(tiny_dir: Path, tmp_path: Path) -> None:
    localmodel.unload(tiny_dir)
    provider = provider_for(tiny_dir, tmp_path)
    assert asyncio.run(provider.health()) == "not loaded yet"
    assert not localmodel.is_loaded(tiny_dir)
    complete(provider, (WINNER,))
    assert asyncio.run(provider.health()) == "ok"
    asyncio.run(provider.aclose())


def test_a_missing_model_is_unavailable_and_calls_fail_clearly(tmp_path: Path) -> None:
    provider = provider_for(tmp_path / "nowhere", tmp_path)
    health = asyncio.run(provider.health())
    assert health.startswith("unavailable:") and "nowhere" in health
    with pytest.raises(JudgeError, match="nowhere") as info:
        complete(provider, (WINNER,))
    assert not info.value.retryable


def test_requests_it_cannot_score_are_refused(tiny_dir: Path, tmp_path: Path) -> None:
    provider = provider_for(tiny_dir, tmp_path)
    with pytest.raises(InvalidInput) as info:
        complete(provider, ())
    assert info.value.field == "fields"
    with pytest.raises(InvalidInput, match="repeats a label"):
        complete(provider, (AnswerField("winner", ("A", "A")),))
    with pytest.raises(JudgeError, match="reads at most 512"):
        asyncio.run(provider.complete(JudgeRequest(messages=(ChatMessage("user", "word " * 2000),), fields=(WINNER,))))
    with pytest.raises(InvalidInput, match="unknown options") as info:
        provider_for(tiny_dir, tmp_path, device="cuda")
    assert info.value.field == "options"


@pytest.fixture(scope="session")
def embedded_provider(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> LocalProvider:
    cache = embedded_model_cache(pytestconfig, tmp_path_factory)  # one conversion for the whole suite
    spec = JudgeSpec(name="smollm2", provider="local", model=EMBEDDED_MODEL)
    return LocalProvider(spec, Settings(data_dir=cache.parent, model_cache_dir=cache))


@pytest.mark.slow
def test_embedded_smollm2_judges_a_pairwise_comparison(embedded_provider: LocalProvider) -> None:
    messages = (
        ChatMessage("system", 'Compare two answers to the question. Reply with JSON: {"winner": "A"}, {"winner": "B"} or {"winner": "tie"}.'),
        ChatMessage("user", "Question: What is the capital of France?\n\nAnswer A: Paris.\n\nAnswer B: I am not sure, maybe Lyon."),
    )
    reply = asyncio.run(embedded_provider.complete(JudgeRequest(messages=messages, fields=(WINNER,))))
    probs = reply.label_probs["winner"]
    assert set(probs) == {"A", "B", "tie"}
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-9)
    assert json.loads(reply.text) == reply.structured and reply.structured["winner"] in probs
    assert reply.model == EMBEDDED_MODEL
    # The GGUF's own chat template is used, not the ChatML fallback (SmolLM2's adds a system default).
    tokenizer = localmodel.load_causal_lm(EMBEDDED_MODEL, Path("unused")).tokenizer
    assert tokenizer.chat_template
    rendered = render_chat(tokenizer, messages)
    assert rendered.endswith("<|im_start|>assistant\n")
    assert reply.usage.input_tokens == len(tokenizer.apply_chat_template([{"role": m.role, "content": m.content} for m in messages], add_generation_prompt=True)["input_ids"])
    assert asyncio.run(embedded_provider.health()) == "ok"


def test_prefix_cache_is_cropped_when_a_later_prefix_diverges(tiny_dir: Path) -> None:
    # Scoring a later field reuses the KV cache of the earlier one; where the new token prefix
    # differs from the cached one (a BPE merge across the old boundary), the cache must be cut
    # back to the common part. Each result must equal an uncached forward pass.
    import torch

    from judge_service.judges.local import _PrefixScorer

    model = localmodel.load_causal_lm(tiny_dir, tiny_dir.parent).model

    def brute_tail_logprob(ids: list[int], shared: int) -> float:
        with torch.inference_mode():
            logprobs = torch.log_softmax(model(torch.tensor([ids])).logits[0].double(), dim=-1)
        return sum(float(logprobs[i - 1, ids[i]]) for i in range(shared, len(ids)))

    base = list(range(10, 40))
    calls = [
        [base + [50, 51, 60], base + [50, 51, 61, 62, 63]],  # head = base + [50, 51]
        [base + [50, 51, 60, 70, 80], base + [50, 51, 60, 70, 81]],  # extends the cached head
        [base[:20] + [90, 91], base[:20] + [92]],  # diverges inside the cached part: crop
    ]
    scorer = _PrefixScorer(model, torch)
    with torch.inference_mode():
        for sequences in calls:
            shared = min(len(s) for s in sequences) - 1
            while any(s[:shared] != sequences[0][:shared] for s in sequences):
                shared -= 1
            got = scorer.continuation_logprobs(sequences, max_batch=4)
            assert got == pytest.approx([brute_tail_logprob(s, shared) for s in sequences], abs=1e-4)
