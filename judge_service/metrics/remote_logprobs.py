"""Perplexity from a remote OpenAI-compatible completions endpoint that echoes prompt logprobs.

vLLM (and servers copying its API) answer ``POST /v1/completions`` with ``echo=True,
logprobs=1`` by returning, in ``choices[0].logprobs.token_logprobs``, the log-probability of
every prompt token given the tokens before it; the first entry is null (no context). We send
``max_tokens=1`` because older vLLM releases reject 0, and drop the generated token: the prompt
is the first ``usage.prompt_tokens`` entries (else those whose ``text_offset`` lies inside the
prompt, else all but the last).

Scoring follows the server's tokenisation: when its tokenizer prepends BOS, BOS is the null
entry and the text's first token is scored (locally it is not: see ``perplexity.py``). There is
no sliding window: the server must fit each text in its context, or it answers with an error.
Results have the same shape as local ones, so ``compare_results`` works on them too.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from typing import Any

from judge_service.errors import InvalidInput, JudgeError
from judge_service.metrics.perplexity import PerplexityResult, ProgressCallback, build_result, check_texts


async def remote_perplexity(
    base_url: str,
    model: str,
    texts: Sequence[str],
    *,
    api_key: str | None = None,
    max_concurrency: int = 8,
    timeout_s: float = 120.0,
    max_retries: int = 2,
    on_progress: ProgressCallback | None = None,
) -> PerplexityResult:
    """Per-text and corpus perplexity of ``model`` served at ``base_url`` (e.g. http://host:8000/v1)."""
    from openai import APIConnectionError, APIStatusError, APITimeoutError, AsyncOpenAI

    check_texts(texts)
    if max_concurrency < 1:
        raise InvalidInput(f"max_concurrency={max_concurrency} must be at least 1", field="max_concurrency")
    # Local servers usually need no key, but the SDK refuses to start without one.
    client = AsyncOpenAI(base_url=base_url, api_key=api_key or "EMPTY", timeout=timeout_s, max_retries=max_retries)
    gate = asyncio.Semaphore(max_concurrency)
    progress = {"done": 0}
    total_chars = sum(len(t) for t in texts)

    async def score(i: int, text: str) -> tuple[float, int]:
        async with gate:
            try:
                reply = await client.completions.create(model=model, prompt=text, echo=True, logprobs=1, max_tokens=1,
                                                        temperature=0.0)
            except APIStatusError as e:
                raise JudgeError(f"the completions endpoint {base_url} answered {e.status_code} for texts[{i}]: {e.message}",
                                 retryable=e.status_code == 429 or e.status_code >= 500) from e
            except (APIConnectionError, APITimeoutError) as e:
                raise JudgeError(f"could not reach the completions endpoint {base_url} ({e}); check base_url and that the server is up",
                                 retryable=True) from e
        result = prompt_nll(reply, text, base_url=base_url, index=i)
        progress["done"] += len(text)
        if on_progress is not None:
            on_progress(progress["done"], total_chars)  # characters, not tokens: the server tokenises
        return result

    try:
        scored = await asyncio.gather(*(score(i, t) for i, t in enumerate(texts)))
    finally:
        await client.close()
    return build_result(model, texts, [s for s, _ in scored], [c for _, c in scored], max_length=None, stride=None)


def prompt_nll(reply: Any, text: str, *, base_url: str = "", index: int = 0) -> tuple[float, int]:
    """(Σ −logprob, number of scored tokens) over the prompt part of an echoed completion."""
    choice = reply.choices[0] if getattr(reply, "choices", None) else None
    logprobs = getattr(choice, "logprobs", None)
    token_logprobs = list(getattr(logprobs, "token_logprobs", None) or [])
    if not token_logprobs:
        raise InvalidInput(
            f"the endpoint {base_url} returned no prompt logprobs for texts[{index}]; remote perplexity needs a server that "
            "supports echo=True with logprobs on /v1/completions (e.g. vLLM)", field="base_url")
    usage = getattr(reply, "usage", None)
    prompt_tokens = getattr(usage, "prompt_tokens", None)
    offsets = getattr(logprobs, "text_offset", None)
    if isinstance(prompt_tokens, int) and 0 < prompt_tokens <= len(token_logprobs):
        n_prompt = prompt_tokens
    elif offsets and len(offsets) == len(token_logprobs):
        n_prompt = sum(1 for o in offsets if o < len(text))
    else:
        n_prompt = len(token_logprobs) - 1
    scored = [float(x) for x in token_logprobs[:n_prompt] if x is not None]
    if any(not math.isfinite(x) for x in scored):
        raise JudgeError(f"the endpoint {base_url} returned a non-finite logprob for texts[{index}]")
    return -math.fsum(scored), len(scored)
