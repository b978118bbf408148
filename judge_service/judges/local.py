"""The local judge: an in-process transformers model that scores the allowed labels directly.

A small model asked to "reply with JSON" often rambles; and free generation says nothing about
how sure the judge is. So this provider never generates free text. The answer is a JSON object
with one key per ``AnswerField`` in request order, e.g. ``{"coherence": 4, "fluency": 5}``, and
for each field it computes, for every allowed label,

    log P(label + terminator | chat prompt + answer so far)

where the answer so far is e.g. ``{"coherence": 4, "fluency": `` and the terminator is the text
that must follow the value (``,`` before the next field, ``}`` after the last). The terminator
is what makes multi-digit labels exact: without it "1" would also collect the probability of
"10", "11", ... whose first digit is "1". Quoted (string) labels include their closing quote.
A softmax over the labels' summed log-probabilities gives ``label_probs[field]``; the chosen
label (argmax at temperature 0, else a seeded draw) is appended and the next field is scored.

Efficiency: the prompt and answer prefix go through the model once per request (a KV cache is
kept across fields); the candidates' continuations are scored together in one batched forward
pass over a copy of that cache.

``spec.options`` (all optional):
  ``max_candidate_batch`` (int, default 16): the most label continuations scored in one batched
  forward pass; each needs its own copy of the prompt's KV cache, so lower it for long prompts
  with many labels if memory is tight.
"""

from __future__ import annotations

import asyncio
import copy
import importlib.util
import inspect
import json
import math
import random
import re
import time
from dataclasses import dataclass
from typing import Any

from judge_service.errors import InvalidInput, JudgeError, MissingExtra, ServiceError
from judge_service.judges.base import AnswerField, ChatMessage, JudgeProvider, JudgeReply, JudgeRequest, Usage
from judge_service.judges.config import JudgeSpec
from judge_service.localmodel import LoadedModel, is_loaded, load_causal_lm, model_name, resolve_model_source
from judge_service.settings import Settings

# JSON numbers may not have leading zeros, so "07" stays a quoted string label.
_NUMERIC_LABEL = re.compile(r"^(0|[1-9][0-9]*)$")
_KNOWN_OPTIONS = {"max_candidate_batch"}


class LocalProvider(JudgeProvider):
    """A judge backed by a local causal LM (default: the embedded SmolLM2 135M Instruct)."""

    def __init__(self, spec: JudgeSpec, settings: Settings) -> None:
        unknown = set(spec.options) - _KNOWN_OPTIONS
        if unknown:
            raise InvalidInput(
                f"judge '{spec.name}': unknown options {sorted(unknown)} for the local provider; known: {sorted(_KNOWN_OPTIONS)}",
                field="options",
            )
        batch = spec.options.get("max_candidate_batch", 16)
        if not isinstance(batch, int) or batch < 1:
            raise InvalidInput(f"judge '{spec.name}': options.max_candidate_batch must be a positive integer, got {batch!r}", field="options")
        self._spec = spec
        self._ref = spec.model
        self._cache_dir = settings.resolved_model_cache()
        self._max_candidate_batch = batch
        self._loaded: LoadedModel | None = None
        self._load_error: str | None = None

    @property
    def model(self) -> str:
        return model_name(self._ref)

    async def complete(self, request: JudgeRequest) -> JudgeReply:
        _check_request(request)
        loaded = await self._ensure_loaded()
        started = time.perf_counter()
        answer = await asyncio.to_thread(self._score_locked, loaded, request)
        latency_ms = (time.perf_counter() - started) * 1000.0
        return JudgeReply(
            text=answer.text,
            model=loaded.name,
            usage=Usage(input_tokens=answer.prompt_tokens, output_tokens=answer.answer_tokens),
            latency_ms=latency_ms,
            structured=answer.structured,
            label_probs=answer.label_probs,
        )

    async def health(self) -> str:
        """Never loads the model: loading takes seconds and health must be cheap."""
        if self._loaded is not None or is_loaded(self._ref):
            return "ok"
        if self._load_error is not None:
            return f"unavailable: {self._load_error}"
        for module, package in (("torch", "torch"), ("transformers", "transformers")):
            if importlib.util.find_spec(module) is None:
                return f"unavailable: {package} is not installed; pip install 'judge-service[local]'"
        try:
            resolve_model_source(self._ref)
        except ServiceError as e:
            return f"unavailable: {e.message}"
        return "not loaded yet"

    async def warm(self) -> None:
        """Load the model now, so the first verdict doesn't pay for it (``judge serve`` does this)."""
        await self._ensure_loaded()

    async def aclose(self) -> None:
        # The weights are shared process-wide (see localmodel); dropping our reference is all.
        self._loaded = None

    async def _ensure_loaded(self) -> LoadedModel:
        if self._loaded is None:
            try:
                self._loaded = await asyncio.to_thread(load_causal_lm, self._ref, self._cache_dir)
            except (InvalidInput, MissingExtra) as e:
                self._load_error = e.message
                raise JudgeError(f"local judge '{self._spec.name}' cannot load model '{self._ref}': {e.message}") from e
            self._load_error = None
        return self._loaded

    def _score_locked(self, loaded: LoadedModel, request: JudgeRequest) -> ScoredAnswer:
        with loaded.lock:
            return score_answer(
                loaded,
                request.messages,
                request.fields,
                temperature=request.temperature,
                rng=_request_rng(request),
                max_candidate_batch=self._max_candidate_batch,
            )


@dataclass
class ScoredAnswer:
    text: str  # the JSON object, e.g. '{"score": 7}'
    structured: dict[str, Any]
    label_probs: dict[str, dict[str, float]]
    prompt_tokens: int
    answer_tokens: int


def render_chat(tokenizer: Any, messages: tuple[ChatMessage, ...]) -> str:
    """The prompt text up to where the assistant's answer starts.

    Uses the tokenizer's chat template (the SmolLM2 GGUF ships one). Without a template, falls
    back to ChatML (``<|im_start|>role\\ncontent<|im_end|>\\n`` ... ``<|im_start|>assistant\\n``),
    the format SmolLM2 and many small instruct models were trained on.
    """
    if getattr(tokenizer, "chat_template", None):
        chat = [{"role": m.role, "content": m.content} for m in messages]
        text: str = tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
        return text
    turns = "".join(f"<|im_start|>{m.role}\n{m.content}<|im_end|>\n" for m in messages)
    return turns + "<|im_start|>assistant\n"


def is_numeric_field(field: AnswerField) -> bool:
    """Numeric fields are written as bare JSON numbers; any other label set as JSON strings."""
    return all(_NUMERIC_LABEL.match(label) for label in field.labels)


def label_json(label: str, numeric: bool) -> str:
    return label if numeric else json.dumps(label)


def field_prefix(answer_so_far: str, field: AnswerField) -> str:
    """The answer text right before a field's value, e.g. ``{"a": 4, "b": ``."""
    return f"{answer_so_far}{json.dumps(field.name)}: "


def field_terminator(index: int, n_fields: int) -> str:
    return "}" if index == n_fields - 1 else ","


def score_answer(
    loaded: LoadedModel,
    messages: tuple[ChatMessage, ...],
    fields: tuple[AnswerField, ...],
    *,
    temperature: float = 0.0,
    rng: random.Random | None = None,
    max_candidate_batch: int = 16,
) -> ScoredAnswer:
    """Constrained label scoring of one answer object. Call with ``loaded.lock`` held."""
    import torch

    tokenizer, model = loaded.tokenizer, loaded.model
    prompt = render_chat(tokenizer, messages)
    prompt_tokens = len(_encode(tokenizer, prompt))
    limit = getattr(model.config, "max_position_embeddings", None)
    if limit is not None and prompt_tokens + 16 * len(fields) > limit:
        raise JudgeError(
            f"the prompt is {prompt_tokens} tokens but model {loaded.name} reads at most {limit}; "
            "shorten the texts being judged or use a judge with a longer context"
        )
    scorer = _PrefixScorer(model, torch)
    answer = "{"
    structured: dict[str, Any] = {}
    label_probs: dict[str, dict[str, float]] = {}
    with torch.inference_mode():
        for index, field in enumerate(fields):
            numeric = is_numeric_field(field)
            prefix = field_prefix(answer, field)
            terminator = field_terminator(index, len(fields))
            values = [label_json(label, numeric) for label in field.labels]
            # Tokenise each full candidate text in context rather than the continuation alone:
            # BPE merges across the boundary (SmolLM2 encodes `: "tie"}` as ': "' 'tie' '"}', the
            # space joining the quote and the quote joining the brace), so the continuation's
            # tokens on their own are not the tokens the model would actually see.
            sequences = [_encode(tokenizer, prompt + prefix + value + terminator) for value in values]
            logprobs = scorer.continuation_logprobs(sequences, max_candidate_batch)
            probs = _softmax(logprobs)
            label_probs[field.name] = dict(zip(field.labels, probs))
            chosen = _choose(probs if temperature <= 0 else _softmax([lp / temperature for lp in logprobs]), temperature, rng)
            label = field.labels[chosen]
            structured[field.name] = int(label) if numeric else label
            answer = prefix + values[chosen] + (terminator if terminator == "}" else ", ")
    answer_tokens = len(_encode(tokenizer, prompt + answer)) - prompt_tokens
    return ScoredAnswer(answer, structured, label_probs, prompt_tokens, max(answer_tokens, 1))


class _PrefixScorer:
    """Scores candidate continuations of a shared prefix, keeping the prefix's KV cache across
    calls so that each field of an answer only feeds the model the few new tokens."""

    def __init__(self, model: Any, torch: Any) -> None:
        self._model = model
        self._torch = torch
        self._cache: Any = None
        self._cached_ids: list[int] = []
        # transformers 5 renamed the forward argument `past_key_values` to `cache`.
        params = inspect.signature(model.forward).parameters
        self._cache_arg = "cache" if "cache" in params else "past_key_values"
        # Only the last position's logits are needed when extending the prefix; computing the
        # vocabulary projection for all ~400 prompt positions costs ~10x the rest of the pass.
        keep_arg = next((a for a in ("logits_to_keep", "num_logits_to_keep") if a in params), None)
        self._keep_last = {keep_arg: 1} if keep_arg else {}
        # Pads are never read (see continuation_logprobs), so any valid id will do.
        self._pad_id = 0

    def continuation_logprobs(self, sequences: list[list[int]], max_batch: int) -> list[float]:
        """log P(tail | shared head) for each sequence, where the head is the longest token
        prefix all sequences share (at least one tail token each). Since the head is common,
        these differ from the sequences' full log-likelihoods by one shared constant."""
        torch = self._torch
        shared = min(_common_prefix_len(sequences), min(len(s) for s in sequences) - 1)
        if shared < 1:
            raise JudgeError("cannot score labels: the answer has no shared context with the prompt")
        head = sequences[0][:shared]
        last_logprobs = self._extend_to(head)
        tails = [s[shared:] for s in sequences]
        totals = [float(last_logprobs[tail[0]]) for tail in tails]
        # Tokens after the first need the model run over the tail itself, batched over candidates.
        pending = [i for i, tail in enumerate(tails) if len(tail) > 1]
        for start in range(0, len(pending), max_batch):
            chunk = pending[start : start + max_batch]
            width = max(len(tails[i]) - 1 for i in chunk)
            # Right padding needs no attention mask: causal attention never lets a real token
            # see the pads that come after it, and pad positions are never read.
            inputs = torch.full((len(chunk), width), self._pad_id, dtype=torch.long)
            for row, i in enumerate(chunk):
                inputs[row, : len(tails[i]) - 1] = torch.tensor(tails[i][:-1], dtype=torch.long)
            cache = copy.deepcopy(self._cache)
            cache.batch_repeat_interleave(len(chunk))
            logits = self._model(input_ids=inputs, use_cache=True, **{self._cache_arg: cache}).logits
            logprobs = torch.log_softmax(logits.float(), dim=-1)
            for row, i in enumerate(chunk):
                targets = tails[i][1:]
                picked = logprobs[row, torch.arange(len(targets)), torch.tensor(targets, dtype=torch.long)]
                totals[i] += float(picked.sum())
        return totals

    def _extend_to(self, head: list[int]) -> Any:
        """Make the cache cover ``head[:-1]`` then feed the last token(s); return the
        log-probabilities of the token after ``head``."""
        torch = self._torch
        reuse = min(_common_prefix_len([self._cached_ids, head]), len(head) - 1)
        if self._cache is not None and reuse < len(self._cached_ids):
            # A negative crop removes that many tokens (transformers 4.4x and 5.x alike).
            self._cache.crop(reuse - len(self._cached_ids))
        if self._cache is None:
            reuse = 0
        new = torch.tensor([head[reuse:]], dtype=torch.long)
        kwargs = {self._cache_arg: self._cache} if self._cache is not None else {}
        out = self._model(input_ids=new, use_cache=True, **kwargs, **self._keep_last)
        if self._cache is None:
            self._cache = out.cache if hasattr(out, "cache") else out.past_key_values
        self._cached_ids = list(head)
        return torch.log_softmax(out.logits[0, -1].float(), dim=-1)


def _encode(tokenizer: Any, text: str) -> list[int]:
    # The chat template already wrote every special token the model needs.
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def _common_prefix_len(sequences: list[list[int]]) -> int:
    n = min(len(s) for s in sequences)
    for i in range(n):
        token = sequences[0][i]
        if any(s[i] != token for s in sequences):
            return i
    return n


def _softmax(logprobs: list[float]) -> list[float]:
    top = max(logprobs)
    weights = [math.exp(lp - top) for lp in logprobs]
    total = sum(weights)
    return [w / total for w in weights]


def _choose(probs: list[float], temperature: float, rng: random.Random | None) -> int:
    if temperature <= 0 or rng is None:
        return max(range(len(probs)), key=lambda i: probs[i])  # ties: the first label
    draw = rng.random()
    cumulative = 0.0
    for i, p in enumerate(probs):
        cumulative += p
        if draw < cumulative:
            return i
    return len(probs) - 1  # float rounding left the cumulative sum a hair under 1


def _request_rng(request: JudgeRequest) -> random.Random:
    # Seeded from a string so sample k of seed s is the same draw in any process; no seed means
    # the caller asked for fresh randomness.
    if request.seed is None:
        return random.Random()
    return random.Random(f"{request.seed}:{request.sample_index}")


def _check_request(request: JudgeRequest) -> None:
    if not request.messages:
        raise InvalidInput("the local judge needs at least one message", field="messages")
    if not request.fields:
        raise InvalidInput("the local judge scores answer fields; send at least one field with its allowed labels", field="fields")
    for f in request.fields:
        if not f.labels:
            raise InvalidInput(f"answer field '{f.name}' has no allowed labels", field="fields")
        if len(set(f.labels)) != len(f.labels):
            raise InvalidInput(f"answer field '{f.name}' repeats a label: {list(f.labels)}", field="fields")
    if len({f.name for f in request.fields}) != len(request.fields):
        raise InvalidInput("answer field names must be unique", field="fields")
    if request.temperature < 0:
        raise InvalidInput(f"temperature must be >= 0, got {request.temperature}", field="temperature")
