"""Perplexity of a local causal LM on texts, and base-vs-tuned comparison of two models.

Definitions (every figure is token-weighted, never a mean of per-text or per-window values):

- A text is tokenised with ``add_special_tokens=False`` and **no BOS is prepended**: the text's
  own first token has no context and is not scored, so a text of n tokens scores n − 1. The
  reference computation ``model(ids, labels=ids).loss`` on the same ids gives the same number.
- ``nll_sum``: the sum over scored tokens of −log p(token | preceding tokens), in nats.
- ``perplexity`` = exp(nll_sum / scored tokens); corpus perplexity = exp(Σ nll_sum / Σ tokens).
- ``bits_per_byte`` = nll_sum / ln 2 / (UTF-8 bytes of the text). Unlike perplexity it does
  not depend on the tokenizer, so it compares models with different vocabularies.

Long texts use the sliding window of the transformers guide "Perplexity of fixed-length
models": windows of ``max_length`` tokens starting every ``stride`` tokens; each window scores
only the tokens no earlier window scored, with the rest of the window as context (label −100
in the guide). Every token after the first is scored exactly once, including the first new
token of each window, which is why ``stride < max_length``: that token needs at least one token
of context inside its window. A text no longer than ``max_length`` is one window whatever the
stride; a longer text's figure depends on the stride (more overlap = more context = lower).

Efficiency: windows of all texts are sorted by length and run in batches, padded on the right,
and the loss is computed only at scored positions, in chunks of rows through the output head,
so a 49k-vocabulary × long-sequence logit tensor never exists at once. No attention mask is
passed: in a causal decoder a real token attends only to positions before it, which right
padding leaves real, so the mask cannot change a scored position (the tests pin batched results
to one-text-at-a-time ones). Passing one anyway costs 2-3× on CPU: transformers turns it into an
explicit 4-D mask and SDPA leaves its fused causal kernel (measured with SmolLM2-135M, torch
2.13). No KV cache is built either (``use_cache=False``): nothing is generated.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from judge_service.errors import InvalidInput
from judge_service.localmodel import LoadedModel
from judge_service.stats.inference import Estimate, paired_difference_from_diffs

DEFAULT_MAX_LENGTH = 2048  # cap on the default window: the model's full context can be slow on CPU
# Logit elements materialised at once by the chunked loss: 2^24 float32 = 64 MB (≈340 rows of a
# 49k vocabulary); cross-entropy needs about twice that while it runs.
_LOGIT_CHUNK_ELEMENTS = 1 << 24

ProgressCallback = Callable[[int, int], None]  # (scored tokens done, scored tokens in total)


@dataclass(frozen=True)
class Window:
    """One forward pass over ids[begin:end] that scores the tokens at positions [score_from, end)."""

    begin: int
    end: int
    score_from: int


@dataclass(frozen=True)
class TextPerplexity:
    """One text's figures. ``perplexity`` and ``bits_per_byte`` are None when nothing was scored
    (a text of one token has no token with context)."""

    perplexity: float | None
    nll_sum: float
    token_count: int  # scored tokens
    byte_count: int  # UTF-8 bytes of the text
    bits_per_byte: float | None


@dataclass(frozen=True)
class PerplexityResult:
    model: str
    texts: list[TextPerplexity]
    corpus_perplexity: float
    mean_nll_per_token: float  # nats; log of corpus_perplexity
    bits_per_byte: float  # Σ nll / ln 2 / Σ bytes
    total_tokens: int
    total_bytes: int
    max_length: int | None  # None: remote scoring, no window
    stride: int | None
    prepended_bos: bool = False


@dataclass(frozen=True)
class PerplexityComparison:
    """tuned − base per text, on the measure both models can be compared on."""

    base: PerplexityResult
    tuned: PerplexityResult
    measure: str  # "log_perplexity" (same tokenisation) or "bits_per_byte"
    per_text_difference: list[float | None]  # None where either model scored no token
    difference: Estimate  # mean difference, bootstrap CI; p_value = Wilcoxon signed-rank
    confidence: float
    verdict: str


def sliding_windows(n_tokens: int, max_length: int, stride: int) -> list[Window]:
    """The windows that score tokens 1..n_tokens−1 of a text exactly once (see module doc)."""
    check_window(max_length, stride)
    if n_tokens < 2:
        return []
    windows: list[Window] = []
    begin, scored_up_to = 0, 1  # position 0 has no context and is never scored
    while True:
        end = min(begin + max_length, n_tokens)
        windows.append(Window(begin, end, scored_up_to))
        if end == n_tokens:
            return windows
        scored_up_to = end
        begin += stride


def check_window(max_length: int, stride: int) -> None:
    if max_length < 2:
        raise InvalidInput(f"max_length={max_length} is too short: a window needs a context token and a scored token; use at least 2",
                           field="max_length")
    if not 1 <= stride < max_length:
        raise InvalidInput(
            f"stride={stride} must be between 1 and max_length − 1 = {max_length - 1}: the first new token of each window "
            f"needs one token of context inside it; stride = max_length − 1 scores without overlap", field="stride")


def perplexity(
    loaded: LoadedModel,
    texts: Sequence[str],
    *,
    max_length: int | None = None,
    stride: int | None = None,
    batch_size: int = 8,
    on_progress: ProgressCallback | None = None,
) -> PerplexityResult:
    """Perplexity of ``loaded`` on each text and on the corpus (token-weighted).

    ``max_length``: window size in tokens (default: the model's context, at most 2048).
    ``stride``: tokens between window starts (default max_length // 2). ``batch_size``: windows
    per forward pass. Blocking and CPU-heavy: call it from a worker thread in async code.
    """
    import torch

    check_texts(texts)
    if batch_size < 1:
        raise InvalidInput(f"batch_size={batch_size} must be at least 1", field="batch_size")
    context = model_context(loaded.model)
    max_length = max_length if max_length is not None else min(context, DEFAULT_MAX_LENGTH)
    if max_length > context:
        raise InvalidInput(f"max_length={max_length} exceeds the model's context of {context} tokens; use at most {context}",
                           field="max_length")
    stride = stride if stride is not None else max(1, max_length // 2)
    check_window(max_length, stride)

    ids = loaded.tokenizer(list(texts), add_special_tokens=False, verbose=False)["input_ids"]
    jobs = [(i, w) for i, text_ids in enumerate(ids) for w in sliding_windows(len(text_ids), max_length, stride)]
    # Longest first: a batch's padding is bounded by its own spread, and a too-large first batch
    # fails at once rather than at the end.
    jobs.sort(key=lambda job: job[1].end - job[1].begin, reverse=True)
    nll = [0.0] * len(texts)
    counts = [0] * len(texts)
    total = sum(w.end - w.score_from for _, w in jobs)
    done = 0
    pad_id = _pad_id(loaded.tokenizer)
    with torch.inference_mode():
        for start in range(0, len(jobs), batch_size):
            batch = jobs[start:start + batch_size]
            with loaded.lock:
                sums = _score_batch(loaded.model, [ids[i] for i, _ in batch], [w for _, w in batch], pad_id)
            for (i, w), s in zip(batch, sums):
                nll[i] += s
                counts[i] += w.end - w.score_from
                done += w.end - w.score_from
            if on_progress is not None:
                on_progress(done, total)
    return build_result(loaded.name, texts, nll, counts, max_length=max_length, stride=stride)


def build_result(model: str, texts: Sequence[str], nll: Sequence[float], counts: Sequence[int], *,
                 max_length: int | None, stride: int | None) -> PerplexityResult:
    """Per-text and corpus figures from per-text NLL sums (nats) and scored-token counts."""
    per_text = []
    for text, s, c in zip(texts, nll, counts):
        n_bytes = len(text.encode("utf-8"))
        per_text.append(TextPerplexity(
            perplexity=math.exp(s / c) if c else None, nll_sum=float(s), token_count=int(c), byte_count=n_bytes,
            bits_per_byte=s / math.log(2) / n_bytes if c else None))
    total_tokens = sum(counts)
    if total_tokens == 0:
        raise InvalidInput("no text has a token with context (every text is a single token); send longer texts", field="texts")
    total_nll = math.fsum(nll)
    total_bytes = sum(t.byte_count for t, c in zip(per_text, counts) if c)
    return PerplexityResult(
        model=model, texts=per_text, corpus_perplexity=math.exp(total_nll / total_tokens),
        mean_nll_per_token=total_nll / total_tokens, bits_per_byte=total_nll / math.log(2) / total_bytes,
        total_tokens=total_tokens, total_bytes=total_bytes, max_length=max_length, stride=stride)


def check_texts(texts: Sequence[str]) -> None:
    if isinstance(texts, str):
        raise InvalidInput("texts must be a list of strings, not one string", field="texts")
    if len(texts) == 0:
        raise InvalidInput("texts is empty; send at least one text", field="texts")
    for i, text in enumerate(texts):
        if not isinstance(text, str) or not text:
            raise InvalidInput(f"texts[{i}] is empty or not a string; perplexity needs at least two tokens of text", field="texts")


def model_context(model: Any) -> int:
    """The longest sequence the model's positions cover (1024 if the config does not say)."""
    config = model.config
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return 1024


def _pad_id(tokenizer: Any) -> int:
    # Any valid id: pads follow every real token, so causal attention never shows them to one,
    # and they are never scored.
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0


def _score_batch(model: Any, token_ids: list[list[int]], windows: list[Window], pad_id: int) -> list[float]:
    """Σ −log p over each window's scored tokens, for one padded batch of windows."""
    import torch
    import torch.nn.functional as F

    device = model.device
    width = max(w.end - w.begin for w in windows)
    inputs = torch.full((len(windows), width), pad_id, dtype=torch.long)
    rows: list[int] = []
    cols: list[int] = []
    targets: list[int] = []
    for r, (ids, w) in enumerate(zip(token_ids, windows)):
        length = w.end - w.begin
        inputs[r, :length] = torch.tensor(ids[w.begin:w.end])
        # The hidden state at window index j predicts the token at j + 1.
        positions = range(w.score_from - w.begin - 1, length - 1)
        rows.extend([r] * len(positions))
        cols.extend(positions)
        targets.extend(ids[w.score_from:w.end])
    rows_t = torch.tensor(rows, device=device)
    cols_t = torch.tensor(cols, device=device)
    targets_t = torch.tensor(targets, device=device)
    inputs = inputs.to(device)

    # Right padding, no attention mask, no cache: see the module docstring.
    head = _split_head(model)
    if head is not None:
        decoder, project = head
        hidden = decoder(input_ids=inputs, use_cache=False).last_hidden_state[rows_t, cols_t]
    else:  # an architecture whose logits are not lm_head(last hidden state): full logits, slower
        hidden, project = model(input_ids=inputs, use_cache=False).logits[rows_t, cols_t], None

    chunk = max(1, _LOGIT_CHUNK_ELEMENTS // _vocab_size(model))
    token_nll = torch.empty(len(targets), dtype=torch.float64, device=device)
    for lo in range(0, len(targets), chunk):
        part = hidden[lo:lo + chunk]
        logits = (project(part) if project is not None else part).float()
        token_nll[lo:lo + chunk] = F.cross_entropy(logits, targets_t[lo:lo + chunk], reduction="none").double()
    sums = torch.zeros(len(windows), dtype=torch.float64, device=device).index_add_(0, rows_t, token_nll)
    return sums.tolist()


def _vocab_size(model: Any) -> int:
    head = model.get_output_embeddings()
    return int(getattr(head, "out_features", None) or model.config.vocab_size)


# model -> (decoder, head) when lm_head(decoder(x)) reproduces model(x).logits, else None.
_head_split: weakref.WeakKeyDictionary[Any, tuple[Any, Any] | None] = weakref.WeakKeyDictionary()


def _split_head(model: Any) -> tuple[Any, Any] | None:
    """The decoder and output head as separate callables, checked once per model.

    Most causal LMs compute logits = lm_head(last hidden state), which lets the loss run only
    at scored positions, chunk by chunk. Some do more (Gemma's logit soft-capping, Cohere's
    logit scale); for those the check fails and the caller falls back to the model's logits.
    """
    import torch

    if model in _head_split:
        return _head_split[model]
    split = None
    decoder, head = getattr(model, "base_model", None), model.get_output_embeddings()
    if decoder is not None and decoder is not model and head is not None:
        probe = torch.arange(1, 9, device=model.device).unsqueeze(0) % _vocab_size(model)
        try:
            with torch.inference_mode():
                expected = model(input_ids=probe, use_cache=False).logits.float()
                got = head(decoder(input_ids=probe, use_cache=False).last_hidden_state).float()
            if got.shape == expected.shape and torch.allclose(got, expected, rtol=1e-4, atol=1e-4):
                split = (decoder, head)
        except (TypeError, AttributeError, RuntimeError):
            split = None
    _head_split[model] = split
    return split


def compare_results(
    base: PerplexityResult,
    tuned: PerplexityResult,
    *,
    confidence: float = 0.95,
    n_resamples: int = 1000,
    seed: str = "perplexity-compare",
) -> PerplexityComparison:
    """Per-text difference tuned − base with a paired bootstrap CI of its mean, and a verdict.

    The measure is the log-perplexity when both models scored the same number of tokens in every
    text (same tokenisation, so per-token averages are comparable), else bits per byte.
    """
    if len(base.texts) != len(tuned.texts):
        raise InvalidInput(f"base scored {len(base.texts)} texts and tuned {len(tuned.texts)}; score the same texts", field="texts")
    same_tokens = all(b.token_count == t.token_count for b, t in zip(base.texts, tuned.texts))
    measure = "log_perplexity" if same_tokens else "bits_per_byte"

    def value(t: TextPerplexity) -> float | None:
        if not t.token_count:
            return None
        return t.nll_sum / t.token_count if same_tokens else t.bits_per_byte

    diffs: list[float | None] = []
    for b, t in zip(base.texts, tuned.texts):
        vb, vt = value(b), value(t)
        diffs.append(None if vb is None or vt is None else vt - vb)
    paired = [d for d in diffs if d is not None]
    if not paired:
        raise InvalidInput("no text was scored by both models; send texts of at least two tokens", field="texts")
    estimate = paired_difference_from_diffs(paired, confidence=confidence, n_resamples=n_resamples, seed=seed).difference
    return PerplexityComparison(base=base, tuned=tuned, measure=measure, per_text_difference=diffs, difference=estimate,
                                confidence=confidence, verdict=comparison_verdict(estimate, measure, confidence))


def compare_perplexity(
    base: LoadedModel,
    tuned: LoadedModel,
    texts: Sequence[str],
    *,
    max_length: int | None = None,
    stride: int | None = None,
    batch_size: int = 8,
    confidence: float = 0.95,
    n_resamples: int = 1000,
    seed: str = "perplexity-compare",
    on_progress: ProgressCallback | None = None,
) -> PerplexityComparison:
    """Score ``texts`` with both models (same window settings) and compare them per text."""
    if max_length is None:  # one window size for both, or the comparison mixes contexts
        max_length = min(model_context(base.model), model_context(tuned.model), DEFAULT_MAX_LENGTH)
    base_result = perplexity(base, texts, max_length=max_length, stride=stride, batch_size=batch_size,
                             on_progress=on_progress)
    tuned_result = perplexity(tuned, texts, max_length=max_length, stride=stride, batch_size=batch_size,
                              on_progress=on_progress)
    return compare_results(base_result, tuned_result, confidence=confidence, n_resamples=n_resamples, seed=seed)


def comparison_verdict(estimate: Estimate, measure: str, confidence: float) -> str:
    """One plain sentence, e.g. "tuned has lower perplexity on these texts: Δ log-ppl −0.12 [−0.18, −0.07], n = 50"."""
    label = "Δ log-ppl" if measure == "log_perplexity" else "Δ bits/byte"
    point, low, high = estimate.estimate, estimate.ci_low, estimate.ci_high
    # paired_difference_from_diffs always sets all three (an unbounded CI is ±inf, not None).
    assert point is not None and low is not None and high is not None
    if not (math.isfinite(low) and math.isfinite(high)):
        return f"too few texts to tell (n = {estimate.n}): {label} {_num(point)}; send at least 2 texts"
    figure = f"{label} {_num(point)} [{_num(low)}, {_num(high)}], n = {estimate.n}"
    level = f"{confidence:.0%} CI"
    if high < 0:
        return f"tuned has lower perplexity on these texts: {figure} ({level})"
    if low > 0:
        return f"tuned has higher perplexity on these texts: {figure} ({level})"
    return f"no detectable difference in perplexity on these texts: {figure} ({level} includes 0)"


def _num(x: float) -> str:
    return f"{x:.3f}".replace("-", "−")
