"""Reference-overlap metrics with a bootstrap CI over items, and a paired test of two systems.

Metrics (scales as their libraries report them):
- ``bleu``, ``chrf``, ``ter``: sacrebleu corpus scores, 0–100 (TER: lower is better). Each
  result carries sacrebleu's signature string. ``tokenize`` applies to BLEU only (chrF works on
  characters, TER has its own normalisation). Per-item scores are sacrebleu's sentence scores
  (sentence BLEU with effective order, as ``sacrebleu.sentence_bleu``).
- ``rouge1``, ``rouge2``, ``rougeL``, ``rougeLsum``: rouge-score F-measure, 0–1, corpus =
  mean over items. rougeLsum splits sentences on newlines only. rouge-score's tokenizer keeps
  ASCII letters and digits only, so it is meaningless for non-Latin scripts.
- ``exact_match``, ``token_f1``: the SQuAD v2 evaluation script's definitions, 0–1.

Multiple references: sacrebleu scores every prediction against all its references at once (its
references are a list of reference *streams*, one per reference position; a prediction with
fewer references has None in the rest). ROUGE, EM and F1 take the max over a prediction's
references, as rouge-score's ``score_multi`` and the SQuAD script do.

Uncertainty. Every metric is reduced to additive per-item statistics (``ItemStatistics``) and a
function from their sum to the score. A bootstrap resample of items sums the statistics of the
drawn items and recomputes the score, so corpus BLEU/chrF/TER are recomputed as corpus scores
(not averaged), as in sacrebleu's own bootstrap (Koehn 2004). CIs are BCa intervals from
``stats.inference``; the paired test resamples the same items for both systems.
"""

from __future__ import annotations

import re
import string
from typing import Any, overload
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from judge_service.errors import InvalidInput, MissingExtra
from judge_service.stats.inference import bootstrap_index_ci, rng_from_seed

SACREBLEU_METRICS = ("bleu", "chrf", "ter")
ROUGE_METRICS = ("rouge1", "rouge2", "rougeL", "rougeLsum")
SQUAD_METRICS = ("exact_match", "token_f1")
CHEAP_METRICS = SACREBLEU_METRICS + ROUGE_METRICS + SQUAD_METRICS
# "classification" expands to accuracy and micro/macro precision, recall and F1.
ALL_METRICS = CHEAP_METRICS + ("classification", "embedding")

MIN_PAIRED_ITEMS = 10  # below this the paired verdict names no winner
ScoreFn = Callable[[np.ndarray], np.ndarray]  # summed statistics (..., k) -> score (...)


@dataclass(frozen=True)
class ItemStatistics:
    """What a corpus metric needs to be recomputed on any multiset of items."""

    metric: str
    stats: np.ndarray  # (n_items, k): additive sufficient statistics per item
    score_fn: ScoreFn
    per_item: list[float]
    higher_is_better: bool = True
    scale: float = 1.0  # 100 for sacrebleu's scores
    signature: str | None = None
    corpus_score: float | None = None  # the library's own corpus figure when it has one

    @overload
    def score(self) -> float: ...

    @overload
    def score(self, index: np.ndarray) -> np.ndarray: ...

    def score(self, index: np.ndarray | None = None) -> np.ndarray | float:
        """The score on all items (index None) or on resamples: index (..., m) -> (...)."""
        if index is None:
            return self.corpus_score if self.corpus_score is not None else float(self.score_fn(self.stats.sum(axis=0)))
        resampled: np.ndarray = self.score_fn(self.stats[index].sum(axis=-2))
        return resampled

    def resampled(self, index: np.ndarray) -> np.ndarray:
        return self.score(index)


@dataclass(frozen=True)
class CorpusScore:
    metric: str
    score: float
    ci_low: float
    ci_high: float
    confidence: float
    n: int
    higher_is_better: bool
    scale: float
    signature: str | None = None
    per_item: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class PairedComparison:
    """System B against system A on the same items: difference = score_b − score_a."""

    metric: str
    score_a: float
    score_b: float
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    confidence: float
    n: int
    higher_is_better: bool
    verdict: str


@dataclass(frozen=True)
class OverlapReport:
    n: int
    scores: dict[str, CorpusScore]
    paired: dict[str, PairedComparison]  # empty without predictions_b
    per_class: dict[str, dict[str, float]] | None = None  # classification only


# --- inputs -------------------------------------------------------------------------------

def normalize_references(references: Sequence[str | Sequence[str]], n_predictions: int) -> list[list[str]]:
    """One list of references per prediction; a plain string is a single reference."""
    if isinstance(references, str):
        raise InvalidInput("references must be a list (one entry per prediction), not one string", field="references")
    if len(references) != n_predictions:
        raise InvalidInput(
            f"{n_predictions} predictions but {len(references)} references; send one reference (or a list of references) per prediction",
            field="references")
    out = []
    for i, refs in enumerate(references):
        refs = [refs] if isinstance(refs, str) else list(refs)
        if not refs or not all(isinstance(r, str) for r in refs):
            raise InvalidInput(f"references[{i}] must be a string or a non-empty list of strings", field="references")
        out.append(refs)
    return out


def check_predictions(predictions: Sequence[str], field_name: str = "predictions") -> list[str]:
    if isinstance(predictions, str) or not all(isinstance(p, str) for p in predictions):
        raise InvalidInput(f"{field_name} must be a list of strings", field=field_name)
    if len(predictions) == 0:
        raise InvalidInput(f"{field_name} is empty; send at least one prediction", field=field_name)
    return list(predictions)


# --- sacrebleu ------------------------------------------------------------------------------

def sacrebleu_statistics(metric: str, predictions: Sequence[str], references: list[list[str]], *,
                         tokenize: str | None = None) -> ItemStatistics:
    """BLEU, chrF or TER through sacrebleu's own sufficient statistics.

    ``_extract_corpus_statistics`` / ``_compute_score_from_stats`` are what sacrebleu's paired
    bootstrap uses (sacrebleu/significance.py); tests pin the result to ``corpus_bleu`` etc.
    """
    from sacrebleu.metrics.bleu import BLEU
    from sacrebleu.metrics.chrf import CHRF
    from sacrebleu.metrics.ter import TER

    scorer: BLEU | CHRF | TER
    sentence: BLEU | CHRF | TER
    if metric == "bleu":
        if tokenize is not None and tokenize not in BLEU.TOKENIZERS:
            raise InvalidInput(f"unknown BLEU tokenize '{tokenize}'; choose one of {sorted(BLEU.TOKENIZERS)}", field="tokenize")
        try:
            scorer, sentence = BLEU(tokenize=tokenize), BLEU(tokenize=tokenize, effective_order=True)
        except (ImportError, RuntimeError) as e:
            raise MissingExtra(f"BLEU tokenize '{tokenize}' needs an extra package ({e}); install it with: pip install 'sacrebleu[ja,ko]'") from e
        higher = True
    elif metric == "chrf":
        scorer = sentence = CHRF()
        higher = True
    elif metric == "ter":
        scorer = sentence = TER()
        higher = False
    else:
        raise InvalidInput(f"unknown sacrebleu metric '{metric}'; choose one of {SACREBLEU_METRICS}", field="metrics")
    width = max(len(r) for r in references)
    streams = [[refs[j] if j < len(refs) else None for refs in references] for j in range(width)]
    raw = scorer._extract_corpus_statistics(list(predictions), streams)  # type: ignore[arg-type]  # sacrebleu reads None as a missing reference; its hint says str
    corpus = scorer._aggregate_and_compute(raw)
    stats = np.asarray(raw, dtype=np.float64)

    def score_fn(summed: np.ndarray) -> np.ndarray:
        flat = summed.reshape(-1, summed.shape[-1])
        return np.array([scorer._compute_score_from_stats(list(row)).score for row in flat]).reshape(summed.shape[:-1])

    per_item = [float(sentence._compute_score_from_stats(list(row)).score) for row in stats]
    return ItemStatistics(metric, stats, score_fn, per_item, higher_is_better=higher, scale=100.0,
                          signature=str(scorer.get_signature()), corpus_score=float(corpus.score))


# --- ROUGE ---------------------------------------------------------------------------------

def rouge_statistics(metrics: Sequence[str], predictions: Sequence[str], references: list[list[str]], *,
                     use_stemmer: bool = False) -> list[ItemStatistics]:
    """ROUGE F-measures per item (max over references), corpus = mean over items."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(list(metrics), use_stemmer=use_stemmer)
    rows = [scorer.score_multi(refs, pred) if len(refs) > 1 else scorer.score(refs[0], pred)
            for pred, refs in zip(predictions, references)]
    return [mean_statistics(m, [r[m].fmeasure for r in rows]) for m in metrics]


# --- SQuAD exact match and token F1 ----------------------------------------------------------

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD v2 ``normalize_answer``: lowercase, drop punctuation, drop a/an/the, squeeze spaces."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, reference: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(reference))


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD v2 ``compute_f1``: both empty after normalising = 1, one empty = 0."""
    pred, gold = normalize_answer(prediction).split(), normalize_answer(reference).split()
    if not pred or not gold:
        return float(pred == gold)
    common = sum((Counter(pred) & Counter(gold)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def squad_statistics(metric: str, predictions: Sequence[str], references: list[list[str]]) -> ItemStatistics:
    fn = exact_match if metric == "exact_match" else token_f1
    return mean_statistics(metric, [max(fn(p, r) for r in refs) for p, refs in zip(predictions, references)])


def mean_statistics(metric: str, values: Sequence[float], **kwargs: Any) -> ItemStatistics:
    """A metric whose corpus score is the mean of per-item values: statistics (value, 1)."""
    v = np.asarray(values, dtype=np.float64)
    stats = np.column_stack([v, np.ones_like(v)])
    return ItemStatistics(metric, stats, lambda s: s[..., 0] / s[..., 1], [float(x) for x in v], **kwargs)


# --- resampling -------------------------------------------------------------------------------

def summarize(item_stats: ItemStatistics, *, confidence: float = 0.95, n_resamples: int = 1000,
              seed: str = "overlap", keep_per_item: bool = False) -> CorpusScore:
    """The corpus score with a BCa bootstrap CI over items (n < 2: an unbounded interval)."""
    n = item_stats.stats.shape[0]
    low, high = bootstrap_index_ci(item_stats.resampled, n, confidence=confidence, n_resamples=n_resamples,
                                   seed=f"{seed}:{item_stats.metric}")
    return CorpusScore(item_stats.metric, item_stats.score(), low, high, confidence, n,
                       item_stats.higher_is_better, item_stats.scale, item_stats.signature,
                       item_stats.per_item if keep_per_item else [])


def paired_test(a: ItemStatistics, b: ItemStatistics, *, confidence: float = 0.95, n_resamples: int = 1000,
                seed: str = "overlap") -> PairedComparison:
    """B − A on the same resampled items: BCa CI of the difference and a paired bootstrap p.

    p is two-sided: the share of resampled differences, centred on their mean (the null), at
    least as far from 0 as the observed one — the paired bootstrap test of Koehn (2004), as in
    sacrebleu's ``paired_bs``; +1 in numerator and denominator keeps p > 0 (Davison & Hinkley
    1997, eq. 4.11). Identical systems give p = 1.
    """
    n = a.stats.shape[0]
    if b.stats.shape[0] != n:
        raise InvalidInput(f"system A has {n} items and system B {b.stats.shape[0]}; pair them item by item",
                           field="predictions_b")

    def difference(index: np.ndarray) -> np.ndarray:
        diff: np.ndarray = b.resampled(index) - a.resampled(index)
        return diff

    observed = b.score() - a.score()
    seed = f"{seed}:{a.metric}:paired"
    low, high = bootstrap_index_ci(difference, n, confidence=confidence, n_resamples=n_resamples, seed=seed)
    rng = rng_from_seed(f"{seed}:p")
    draws = np.concatenate([difference(rng.integers(0, n, size=(min(250, n_resamples - s), n)))
                            for s in range(0, n_resamples, 250)])
    extreme = np.abs(draws - draws.mean()) >= abs(observed) - 1e-12
    p = float((1 + extreme.sum()) / (n_resamples + 1))
    return PairedComparison(a.metric, a.score(), b.score(), observed, low, high, p, confidence, n,
                            a.higher_is_better, paired_verdict(a.metric, observed, low, high, p, n, a.higher_is_better, confidence))


def paired_verdict(metric: str, difference: float, low: float, high: float, p: float, n: int, higher_is_better: bool,
                   confidence: float = 0.95) -> str:
    """A winner only when the CI excludes 0 *and* p < 1 − confidence. With few discordant items
    (e.g. exact match differing on 3 of 30) the BCa interval can exclude 0 while the test, like
    an exact sign test, does not: that is not evidence enough to name a winner."""
    figure = f"Δ {difference:+.4g} [{low:+.4g}, {high:+.4g}], p = {p:.3g}, n = {n}"
    if n < MIN_PAIRED_ITEMS:  # a bootstrap of a handful of items understates its own spread
        return f"too few items to tell on {metric} (n = {n}; use at least {MIN_PAIRED_ITEMS}): {figure}"
    if (low > 0 or high < 0) and p < 1 - confidence:
        b_better = (low > 0) == higher_is_better
        return f"{'B' if b_better else 'A'} is better on {metric}: {figure}"
    return f"no detectable difference on {metric}: {figure}"


# --- the whole report ------------------------------------------------------------------------

def check_metric_names(metrics: Sequence[str] | None) -> list[str]:
    if metrics is None:
        return list(CHEAP_METRICS)
    if isinstance(metrics, str) or not metrics:
        raise InvalidInput(f"metrics must be a non-empty list of names from {list(ALL_METRICS)}", field="metrics")
    unknown = [m for m in metrics if m not in ALL_METRICS]
    if unknown:
        raise InvalidInput(f"unknown metric(s) {unknown}; choose from {list(ALL_METRICS)}", field="metrics")
    return list(dict.fromkeys(metrics))


def item_statistics(metrics: Sequence[str], predictions: Sequence[str], references: list[list[str]], *,
                    tokenize: str | None = None, use_stemmer: bool = False,
                    labels: Sequence[str] | None = None) -> tuple[list[ItemStatistics], dict[str, Any] | None]:
    """Statistics for every requested metric (classification expands to several), and the
    per-class table when classification was asked for."""
    out: list[ItemStatistics] = []
    per_class = None
    rouge = [m for m in metrics if m in ROUGE_METRICS]
    for m in metrics:
        if m in SACREBLEU_METRICS:
            out.append(sacrebleu_statistics(m, predictions, references, tokenize=tokenize))
        elif m in SQUAD_METRICS:
            out.append(squad_statistics(m, predictions, references))
        elif m in ROUGE_METRICS:
            if m == rouge[0]:  # one rouge-score pass computes every requested ROUGE type
                out.extend(rouge_statistics(rouge, predictions, references, use_stemmer=use_stemmer))
        elif m == "classification":
            from judge_service.metrics.classification import classification_statistics, per_class_report

            gold = _single_references(references)
            out.extend(classification_statistics(predictions, gold, labels=labels))
            per_class = per_class_report(predictions, gold, labels=labels)
        elif m == "embedding":
            from judge_service.metrics.embedding import embedding_statistics

            out.append(embedding_statistics(predictions, references))
    return out, per_class


def compute_overlap(
    predictions: Sequence[str],
    references: Sequence[str | Sequence[str]],
    *,
    metrics: Sequence[str] | None = None,
    predictions_b: Sequence[str] | None = None,
    tokenize: str | None = None,
    use_stemmer: bool = False,
    labels: Sequence[str] | None = None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: str = "overlap",
    keep_per_item: bool = False,
    on_metric: Callable[[str], None] | None = None,
) -> OverlapReport:
    """Every requested metric (default: the cheap ones, ``CHEAP_METRICS``) with a CI, and with
    ``predictions_b`` a paired test of B against A (``predictions``) on each."""
    names = check_metric_names(metrics)
    predictions = check_predictions(predictions)
    refs = normalize_references(references, len(predictions))
    if predictions_b is not None:
        predictions_b = check_predictions(predictions_b, "predictions_b")
        if len(predictions_b) != len(predictions):
            raise InvalidInput(f"predictions_b has {len(predictions_b)} items and predictions {len(predictions)}; pair them item by item",
                               field="predictions_b")
    stats_a, per_class = item_statistics(names, predictions, refs, tokenize=tokenize, use_stemmer=use_stemmer,
                                         labels=labels)
    scores = {}
    for s in stats_a:
        scores[s.metric] = summarize(s, confidence=confidence, n_resamples=n_resamples, seed=seed, keep_per_item=keep_per_item)
        if on_metric is not None:
            on_metric(s.metric)
    paired = {}
    if predictions_b is not None:
        stats_b, _ = item_statistics(names, predictions_b, refs, tokenize=tokenize, use_stemmer=use_stemmer,
                                     labels=labels)
        for a, b in zip(stats_a, stats_b):
            paired[a.metric] = paired_test(a, b, confidence=confidence, n_resamples=n_resamples, seed=seed)
            if on_metric is not None:
                on_metric(f"{a.metric} (paired)")
    return OverlapReport(len(predictions), scores, paired, per_class)


def _single_references(references: list[list[str]]) -> list[str]:
    if any(len(r) != 1 for r in references):
        raise InvalidInput("classification needs exactly one reference label per prediction", field="references")
    return [r[0] for r in references]
