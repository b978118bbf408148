"""POST /v1/metrics/perplexity and POST /v1/metrics/overlap: local metrics, each with a CI and n.

Model loading and scoring are CPU-heavy and blocking, so they run in worker threads
(``asyncio.to_thread``); the model's own lock serialises forward passes with the local judge.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from judge_service.api.deps import get_ctx
from judge_service.context import AppContext
from judge_service.errors import Forbidden, InvalidInput, PayloadTooLarge
from judge_service.schemas import EstimateOut, ErrorBody

if TYPE_CHECKING:  # the metrics modules are imported lazily at runtime (torch and friends)
    from judge_service.metrics.perplexity import PerplexityResult
    from judge_service.stats.estimate import Estimate

router = APIRouter(prefix="/v1/metrics", tags=["metrics"])
ERRORS: dict[int | str, dict[str, Any]] = {s: {"model": ErrorBody} for s in (413, 422, 502, 503)}

NonEmptyText = Annotated[str, Field(min_length=1)]


# --- contract -------------------------------------------------------------------------------

class PerplexityRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    texts: list[NonEmptyText] = Field(min_length=1, description="texts to score; each is scored on its own")
    model: str | None = Field(default=None, description="local: 'smollm2-135m-instruct' (default), a .gguf path or a model "
                                                        "directory; remote (with base_url): the served model's name")
    base_model: str | None = Field(default=None, description="compare mode: the base model (with tuned_model)")
    tuned_model: str | None = Field(default=None, description="compare mode: the fine-tuned model (with base_model)")
    base_url: str | None = Field(default=None, description="remote mode: an OpenAI-compatible server returning prompt "
                                                           "logprobs on /v1/completions (e.g. vLLM), e.g. http://host:8000/v1")
    api_key: str | None = Field(default=None, description="remote mode: the server's key, if it needs one (never stored)")
    max_length: int | None = Field(default=None, ge=2, description="window in tokens (default: model context, at most 2048)")
    stride: int | None = Field(default=None, ge=1, description="tokens between window starts (default max_length // 2)")
    batch_size: int = Field(default=8, ge=1, le=64)
    confidence: float = Field(default=0.95, gt=0.0, lt=1.0)
    n_resamples: int = Field(default=1000, ge=100, le=100_000)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)


class TextPerplexityOut(BaseModel):
    perplexity: float | None
    nll_sum: float
    token_count: int
    byte_count: int
    bits_per_byte: float | None


class PerplexityOut(BaseModel):
    model: str
    corpus_perplexity: float = Field(description="exp(Σ NLL / Σ scored tokens): token-weighted")
    mean_nll_per_token: float
    bits_per_byte: float
    total_tokens: int
    total_bytes: int
    max_length: int | None
    stride: int | None
    prepended_bos: bool
    texts: list[TextPerplexityOut]


class PerplexityComparisonOut(BaseModel):
    measure: Literal["log_perplexity", "bits_per_byte"]
    per_text_difference: list[float | None] = Field(description="tuned − base per text")
    difference: EstimateOut = Field(description="mean difference; bootstrap CI; p_value: Wilcoxon signed-rank")
    confidence: float
    verdict: str


class PerplexityResponse(BaseModel):
    mode: Literal["single", "compare"]
    remote: bool
    result: PerplexityOut | None = None
    base: PerplexityOut | None = None
    tuned: PerplexityOut | None = None
    comparison: PerplexityComparisonOut | None = None


class OverlapRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    predictions: list[str] = Field(min_length=1)
    references: list[str | list[str]] = Field(min_length=1, description="one reference, or a list of references, per prediction")
    predictions_b: list[str] | None = Field(default=None, description="a second system's predictions for a paired test (B − A)")
    metrics: list[str] | None = Field(default=None, min_length=1,
                                      description="default: bleu, chrf, ter, rouge1, rouge2, rougeL, rougeLsum, exact_match, "
                                                  "token_f1; also: classification, embedding")
    tokenize: str | None = Field(default=None, description="BLEU tokenizer (sacrebleu name, default 13a)")
    use_stemmer: bool = Field(default=False, description="ROUGE: Porter-stem tokens")
    labels: list[str] | None = Field(default=None, description="classification: the label set (default: every label seen)")
    n_resamples: int = Field(default=1000, ge=100, le=20_000)
    confidence: float = Field(default=0.95, gt=0.0, lt=1.0)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    per_item: bool = Field(default=False, description="also return each item's score")


class MetricScoreOut(BaseModel):
    score: float
    ci_low: float | None
    ci_high: float | None
    confidence: float
    n: int
    higher_is_better: bool
    scale: float = Field(description="100 for sacrebleu's BLEU/chrF/TER, 1 otherwise")
    signature: str | None = None
    per_item: list[float] | None = None


class PairedOut(BaseModel):
    score_a: float
    score_b: float
    difference: float = Field(description="score_b − score_a")
    ci_low: float | None
    ci_high: float | None
    p_value: float
    confidence: float
    n: int
    higher_is_better: bool
    verdict: str


class OverlapResponse(BaseModel):
    n: int
    metrics: dict[str, MetricScoreOut]
    paired: dict[str, PairedOut]
    per_class: dict[str, dict[str, float]] | None = None


# --- routes ---------------------------------------------------------------------------------

@router.post("/perplexity", response_model=PerplexityResponse, responses=ERRORS)
async def perplexity_endpoint(body: PerplexityRequest, ctx: AppContext = Depends(get_ctx)) -> dict[str, Any]:
    from judge_service.metrics import perplexity as ppl

    _check_texts(ctx, "texts", body.texts)
    refs = _model_refs(body)
    seed = f"perplexity:{body.seed}"
    max_length, stride = body.max_length, body.stride
    if body.base_url is not None:
        from judge_service.metrics.remote_logprobs import remote_perplexity

        if body.max_length is not None or body.stride is not None:
            raise InvalidInput("remote scoring has no sliding window; drop max_length and stride (the server must fit each text)",
                               field="max_length" if body.max_length is not None else "stride")
        allowed = ctx.settings.remote_metrics_base_urls
        if not any(body.base_url.startswith(prefix) for prefix in allowed):
            # The service would otherwise fetch any URL a caller names (server-side request forgery).
            raise Forbidden(f"base_url {body.base_url!r} is not allowed; the operator can add its prefix to "
                            f"JUDGE_REMOTE_METRICS_BASE_URLS (now {allowed})", field="base_url")
        results = []
        for _, name in refs:
            assert name is not None  # _model_refs requires every model name when base_url is set
            results.append(await remote_perplexity(body.base_url, name, body.texts, api_key=body.api_key))
    else:
        from judge_service.localmodel import load_causal_lm, resolve_model_source

        if body.api_key is not None:
            raise InvalidInput("api_key is only for remote scoring; send base_url too, or drop api_key", field="api_key")
        for field_name, ref in refs:
            _resolve(resolve_model_source, ref, field_name)  # fail fast, before any slow load
        cache = ctx.settings.resolved_model_cache()
        loaded = [await asyncio.to_thread(load_causal_lm, ref, cache) for _, ref in refs]
        if len(loaded) == 2 and body.max_length is None:  # one window size for both models
            max_length = min(min(ppl.model_context(m.model) for m in loaded), ppl.DEFAULT_MAX_LENGTH)
        results = [await asyncio.to_thread(ppl.perplexity, m, body.texts, batch_size=body.batch_size,
                                           max_length=max_length, stride=stride)
                   for m in loaded]
    remote = body.base_url is not None
    if len(results) == 1:
        return {"mode": "single", "remote": remote, "result": _perplexity_out(results[0])}
    comparison = ppl.compare_results(results[0], results[1], confidence=body.confidence, n_resamples=body.n_resamples, seed=seed)
    return {"mode": "compare", "remote": remote, "base": _perplexity_out(results[0]), "tuned": _perplexity_out(results[1]),
            "comparison": {"measure": comparison.measure, "per_text_difference": comparison.per_text_difference,
                           "difference": _estimate_out(comparison.difference), "confidence": comparison.confidence,
                           "verdict": comparison.verdict}}


@router.post("/overlap", response_model=OverlapResponse, responses=ERRORS)
async def overlap_endpoint(body: OverlapRequest, ctx: AppContext = Depends(get_ctx)) -> dict[str, Any]:
    from judge_service.metrics.overlap import check_metric_names, compute_overlap

    names = check_metric_names(body.metrics)  # before the size checks: a typo is the cheaper fix
    _check_texts(ctx, "predictions", body.predictions)
    if body.predictions_b is not None:
        _check_texts(ctx, "predictions_b", body.predictions_b)
    _check_texts(ctx, "references", [r for refs in body.references for r in ([refs] if isinstance(refs, str) else refs)],
                 count=len(body.references))
    report = await asyncio.to_thread(
        compute_overlap, body.predictions, body.references, metrics=names, predictions_b=body.predictions_b,
        tokenize=body.tokenize, use_stemmer=body.use_stemmer, labels=body.labels, n_resamples=body.n_resamples,
        confidence=body.confidence, seed=f"overlap:{body.seed}", keep_per_item=body.per_item)
    return {
        "n": report.n,
        "metrics": {name: {"score": s.score, "ci_low": _finite(s.ci_low), "ci_high": _finite(s.ci_high),
                           "confidence": s.confidence, "n": s.n, "higher_is_better": s.higher_is_better, "scale": s.scale,
                           "signature": s.signature, "per_item": s.per_item if body.per_item else None}
                    for name, s in report.scores.items()},
        "paired": {name: {"score_a": p.score_a, "score_b": p.score_b, "difference": p.difference,
                          "ci_low": _finite(p.ci_low), "ci_high": _finite(p.ci_high), "p_value": p.p_value,
                          "confidence": p.confidence, "n": p.n, "higher_is_better": p.higher_is_better, "verdict": p.verdict}
                   for name, p in report.paired.items()},
        "per_class": report.per_class,
    }


# --- helpers --------------------------------------------------------------------------------

def _check_texts(ctx: AppContext, field_name: str, texts: list[str], *, count: int | None = None) -> None:
    limit = ctx.settings.max_text_chars
    for i, text in enumerate(texts):
        if len(text) > limit:
            raise PayloadTooLarge(f"{field_name}[{i}] is {len(text)} characters; the limit is {limit} (JUDGE_MAX_TEXT_CHARS); "
                                  "split long documents", field=field_name)
    items = count if count is not None else len(texts)
    if items > ctx.settings.max_run_items:
        raise InvalidInput(f"{field_name} has {items} items; the limit is {ctx.settings.max_run_items} (JUDGE_MAX_RUN_ITEMS); "
                           "send fewer per request or use the CLI", field=field_name)


def _model_refs(body: PerplexityRequest) -> list[tuple[str, str | None]]:
    """[(field, ref)]: one model, or base then tuned in compare mode."""
    if body.base_model is None and body.tuned_model is None:
        if body.base_url is not None and not body.model:
            raise InvalidInput("remote scoring needs 'model': the name the server serves the model under", field="model")
        return [("model", body.model)]
    if body.model is not None:
        raise InvalidInput("send either 'model' (one model) or 'base_model' and 'tuned_model' (compare mode), not both",
                           field="model")
    for name in ("base_model", "tuned_model"):
        if not getattr(body, name):
            raise InvalidInput(f"compare mode needs both base_model and tuned_model; '{name}' is missing", field=name)
    return [("base_model", body.base_model), ("tuned_model", body.tuned_model)]


def _resolve(resolve: Callable[[str | None], object], ref: str | None, field_name: str) -> None:
    try:
        resolve(ref)
    except InvalidInput as e:
        raise InvalidInput(e.message, field=field_name) from e


def _finite(x: float | None) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def _estimate_out(e: Estimate) -> dict[str, Any]:
    return {"estimate": _finite(e.estimate), "ci_low": _finite(e.ci_low), "ci_high": _finite(e.ci_high), "n": e.n,
            "p_value": _finite(e.p_value)}


def _perplexity_out(r: PerplexityResult) -> dict[str, Any]:
    return {"model": r.model, "corpus_perplexity": r.corpus_perplexity, "mean_nll_per_token": r.mean_nll_per_token,
            "bits_per_byte": r.bits_per_byte, "total_tokens": r.total_tokens, "total_bytes": r.total_bytes,
            "max_length": r.max_length, "stride": r.stride, "prepended_bos": r.prepended_bos,
            "texts": [{"perplexity": t.perplexity, "nll_sum": t.nll_sum, "token_count": t.token_count,
                       "byte_count": t.byte_count, "bits_per_byte": t.bits_per_byte} for t in r.texts]}
