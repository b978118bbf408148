"""Overlap metrics equal their reference libraries; EM/F1 follow the SQuAD v2 script; the
bootstrap CI and the paired test behave; classification equals scikit-learn."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
import sacrebleu
from rouge_score import rouge_scorer

from judge_service.errors import InvalidInput
from judge_service.metrics.classification import classification_statistics, per_class_report
from judge_service.metrics.overlap import (
    CHEAP_METRICS,
    ROUGE_METRICS,
    compute_overlap,
    exact_match,
    normalize_answer,
    paired_test,
    rouge_statistics,
    sacrebleu_statistics,
    summarize,
    token_f1,
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
MT_BENCH = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mt_bench" / "reference_answer_gpt-4.jsonl"


def _drop_every(text: str, k: int) -> str:
    """A deterministic degraded 'system output': the reference without every k-th word."""
    return " ".join(w for i, w in enumerate(text.split()) if (i + 1) % k)


@pytest.fixture(scope="module")
def corpus():
    """MT-Bench reference answers (real text): turn 1 is the reference, turn 2 a second
    reference for every other item (a variable number of references)."""
    rows = [json.loads(line) for line in MT_BENCH.read_text().splitlines()]
    turns = [r["choices"][0]["turns"] for r in rows]
    refs = [[t[0][:400]] + ([t[1][:400]] if i % 2 else []) for i, t in enumerate(turns)]
    worse = [_drop_every(r[0], 3) for r in refs]
    better = [_drop_every(r[0], 12) for r in refs]
    worse[4] = ""  # an empty prediction
    return refs, worse, better


def _streams(refs: list[list[str]]) -> list[list[str | None]]:
    width = max(len(r) for r in refs)
    return [[r[j] if j < len(r) else None for r in refs] for j in range(width)]


# --- sacrebleu ------------------------------------------------------------------------------------

@pytest.mark.parametrize("tokenize", [None, "char", "intl"])
def test_bleu_equals_sacrebleu(corpus, tokenize):
    refs, preds, _ = corpus
    ours = sacrebleu_statistics("bleu", preds, refs, tokenize=tokenize)
    kwargs = {"tokenize": tokenize} if tokenize else {}
    theirs = sacrebleu.metrics.BLEU(**kwargs)
    expected = theirs.corpus_score(preds, _streams(refs))
    assert ours.score() == pytest.approx(expected.score, abs=1e-9)
    assert ours.score_fn(ours.stats.sum(axis=0)) == pytest.approx(expected.score, abs=1e-9)
    assert ours.signature == str(theirs.get_signature())
    assert f"tok:{tokenize or '13a'}" in ours.signature and "nrefs:var" in ours.signature
    assert sacrebleu.corpus_bleu(preds, _streams(refs), **kwargs).score == pytest.approx(ours.score())
    for i in (0, 4, 7):  # sentence level, including the empty prediction
        assert ours.per_item[i] == pytest.approx(sacrebleu.sentence_bleu(preds[i], refs[i], **kwargs).score)


def test_chrf_and_ter_equal_sacrebleu(corpus):
    refs, preds, _ = corpus
    chrf = sacrebleu_statistics("chrf", preds, refs)
    ter = sacrebleu_statistics("ter", preds, refs)
    assert chrf.score() == pytest.approx(sacrebleu.corpus_chrf(preds, _streams(refs)).score, abs=1e-9)
    assert ter.score() == pytest.approx(sacrebleu.corpus_ter(preds, _streams(refs)).score, abs=1e-9)
    assert chrf.score_fn(chrf.stats.sum(axis=0)) == pytest.approx(chrf.score(), abs=1e-9)
    assert ter.score_fn(ter.stats.sum(axis=0)) == pytest.approx(ter.score(), abs=1e-9)
    assert not ter.higher_is_better and chrf.higher_is_better
    assert chrf.signature.startswith("nrefs:var") and "nc:6" in chrf.signature
    for i in (1, 4):
        assert chrf.per_item[i] == pytest.approx(sacrebleu.sentence_chrf(preds[i], refs[i]).score)
        assert ter.per_item[i] == pytest.approx(sacrebleu.sentence_ter(preds[i], refs[i]).score)


def test_single_reference_strings_are_one_stream():
    preds, refs = ["a cat sat on the mat", "hello world"], ["the cat sat on the mat", "hello there world"]
    report = compute_overlap(preds, refs, metrics=["bleu"], n_resamples=100)
    assert report.scores["bleu"].score == pytest.approx(sacrebleu.corpus_bleu(preds, [refs]).score)
    assert "nrefs:1" in report.scores["bleu"].signature


# --- ROUGE --------------------------------------------------------------------------------------

@pytest.mark.parametrize("use_stemmer", [False, True])
def test_rouge_equals_rouge_score(corpus, use_stemmer):
    refs, preds, _ = corpus
    ours = {s.metric: s for s in rouge_statistics(list(ROUGE_METRICS), preds, refs, use_stemmer=use_stemmer)}
    scorer = rouge_scorer.RougeScorer(list(ROUGE_METRICS), use_stemmer=use_stemmer)
    for metric in ROUGE_METRICS:
        expected = [scorer.score_multi(r, p)[metric].fmeasure for p, r in zip(preds, refs)]
        assert ours[metric].per_item == pytest.approx(expected)
        assert ours[metric].score() == pytest.approx(np.mean(expected))
    # max over references: the second reference of item 1 scores itself perfectly
    best = rouge_statistics(["rouge1"], [refs[1][1]], [refs[1]])[0]
    assert best.per_item == [pytest.approx(1.0)]


# --- SQuAD EM / F1 --------------------------------------------------------------------------------

def test_squad_normalisation():
    assert normalize_answer("The  Cat, sat!") == "cat sat"
    assert normalize_answer("An apple a day") == "apple day"
    assert normalize_answer("theatre") == "theatre"  # articles only as whole words
    assert normalize_answer("well-known") == "wellknown"  # punctuation is deleted, not spaced


@pytest.mark.parametrize("pred, gold, em, f1", [
    ("An apple.", "apple", 1.0, 1.0),
    ("the cat sat on the mat", "a cat on a mat", 0.0, 2 * 0.75 * 1.0 / 1.75),  # P 3/4, R 3/3
    ("Paris, France", "paris", 0.0, 2 * 0.5 * 1.0 / 1.5),
    ("well-known", "well known", 0.0, 0.0),
    ("", "", 1.0, 1.0),  # both empty
    ("The.", "", 1.0, 1.0),  # empty after normalisation
    ("", "cat", 0.0, 0.0),  # one empty
    ("cat", "", 0.0, 0.0),
    ("cat cat dog", "cat dog dog", 0.0, 2 / 3),  # multiset overlap: cat, dog
])
def test_exact_match_and_token_f1_follow_squad(pred, gold, em, f1):
    assert exact_match(pred, gold) == em
    assert token_f1(pred, gold) == pytest.approx(f1)


def test_em_and_f1_take_the_best_reference():
    report = compute_overlap(["cat", "a red car"], [["dog", "The cat!"], ["blue car", "red truck"]],
                             metrics=["exact_match", "token_f1"], n_resamples=100)
    assert report.scores["exact_match"].score == pytest.approx((1.0 + 0.0) / 2)
    assert report.scores["token_f1"].score == pytest.approx((1.0 + 0.5) / 2)  # "red car" vs "blue car": P=R=1/2


# --- uncertainty ------------------------------------------------------------------------------------

def test_every_ci_contains_its_point_estimate(corpus):
    refs, preds, _ = corpus
    report = compute_overlap(preds, refs, n_resamples=300)
    assert list(report.scores) == list(CHEAP_METRICS)
    for s in report.scores.values():
        assert s.n == len(preds)
        assert s.ci_low <= s.score <= s.ci_high, s
        assert s.ci_high - s.ci_low > 0
    again = compute_overlap(preds, refs, metrics=["bleu"], n_resamples=300)
    assert again.scores["bleu"].ci_low == report.scores["bleu"].ci_low  # seeded
    other = compute_overlap(preds, refs, metrics=["bleu"], n_resamples=300, seed="another")
    assert other.scores["bleu"].ci_low != report.scores["bleu"].ci_low


def test_the_corpus_bleu_ci_resamples_sentences_not_a_mean(corpus):
    refs, preds, _ = corpus
    stats = sacrebleu_statistics("bleu", preds, refs)
    index = np.arange(len(preds))[::2]
    subset = sacrebleu.corpus_bleu([preds[i] for i in index], _streams([refs[i] for i in index])).score
    assert stats.score(index[None, :])[0] == pytest.approx(subset)
    assert stats.score() != pytest.approx(np.mean(stats.per_item))


def test_paired_test_detects_a_clearly_better_system(corpus):
    refs, worse, better = corpus
    report = compute_overlap(worse, refs, predictions_b=better, n_resamples=500)
    for metric, p in report.paired.items():
        if metric == "exact_match":  # long answers rarely match exactly: only 3 of 30 items differ
            assert p.difference > 0 and p.p_value > 0.05
            assert p.verdict.startswith("no detectable difference on exact_match")
            continue
        assert p.p_value < 0.01, p
        if p.higher_is_better:
            assert p.difference > 0 and p.ci_low > 0
        else:  # TER: B has fewer edits
            assert p.difference < 0 and p.ci_high < 0
        assert p.verdict.startswith(f"B is better on {metric}")
        assert p.score_a == pytest.approx(report.scores[metric].score)
        assert p.difference == pytest.approx(p.score_b - p.score_a)


def test_paired_test_finds_nothing_between_identical_systems(corpus):
    refs, worse, _ = corpus
    a = sacrebleu_statistics("bleu", worse, refs)
    p = paired_test(a, sacrebleu_statistics("bleu", list(worse), refs), n_resamples=300)
    assert p.difference == 0 and p.p_value == 1.0 and p.ci_low == p.ci_high == 0
    assert p.verdict.startswith("no detectable difference")


def test_one_item_has_an_unbounded_ci():
    s = summarize(sacrebleu_statistics("chrf", ["a cat"], [["the cat"]]), n_resamples=100)
    assert s.n == 1 and math.isinf(s.ci_low) and math.isinf(s.ci_high)


# --- classification ---------------------------------------------------------------------------------

def test_classification_equals_sklearn():
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    rng = np.random.default_rng(1)
    gold = list(rng.choice(["A", "B", "tie"], 200, p=[0.45, 0.45, 0.1]))
    pred = [g if g != "tie" and rng.random() < 0.7 else str(rng.choice(["A", "B"])) for g in gold]  # never "tie"
    stats = {s.metric: s for s in classification_statistics(pred, gold)}
    assert stats["accuracy"].score() == pytest.approx(accuracy_score(gold, pred))
    for average in ("micro", "macro"):
        p, r, f, _ = precision_recall_fscore_support(gold, pred, average=average, zero_division=0)
        assert stats[f"precision_{average}"].score() == pytest.approx(p)
        assert stats[f"recall_{average}"].score() == pytest.approx(r)
        assert stats[f"f1_{average}"].score() == pytest.approx(f)
        # the resampling formula agrees with sklearn's point value
        assert stats[f"f1_{average}"].score_fn(stats[f"f1_{average}"].stats.sum(axis=0)) == pytest.approx(f)
    # ...and on a resample, with the label set fixed (a class missing from the draw scores 0)
    index = rng.integers(0, 200, 200)
    g, q = [gold[i] for i in index], [pred[i] for i in index]
    f = precision_recall_fscore_support(g, q, labels=["A", "B", "tie"], average="macro", zero_division=0)[2]
    assert stats["f1_macro"].score(index[None, :])[0] == pytest.approx(f)
    table = per_class_report(pred, gold)
    assert table["tie"]["precision"] == 0.0 and table["tie"]["support"] == gold.count("tie")


def test_classification_with_a_given_label_subset():
    from sklearn.metrics import precision_recall_fscore_support

    gold, pred = ["a", "b", "c", "a", "b"], ["a", "c", "c", "b", "b"]
    stats = {s.metric: s for s in classification_statistics(pred, gold, labels=["a", "b"])}
    p, r, f, _ = precision_recall_fscore_support(gold, pred, labels=["a", "b"], average="micro", zero_division=0)
    assert (stats["precision_micro"].score(), stats["recall_micro"].score(), stats["f1_micro"].score()) == pytest.approx((p, r, f))
    report = compute_overlap(pred, gold, metrics=["classification"], labels=["a", "b"], n_resamples=100)
    assert set(report.per_class) == {"a", "b"} and "f1_macro" in report.scores


# --- embedding --------------------------------------------------------------------------------------

def test_embedding_similarity_ranks_paraphrases_above_unrelated_text():
    report = compute_overlap(
        ["A cat is sitting on the mat.", "The stock market fell sharply today.", "Identical sentence here."],
        [["There is a cat on the mat."], ["A cat is sitting on the mat."], ["Identical sentence here."]],
        metrics=["embedding"], n_resamples=100, keep_per_item=True)
    sims = report.scores["embedding"].per_item
    assert sims[0] > 0.7 > 0.2 > sims[1]
    assert sims[2] == pytest.approx(1.0, abs=1e-5)


# --- bad input --------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, field", [
    ({"predictions": ["a", "b"], "references": ["a"]}, "references"),
    ({"predictions": [], "references": []}, "predictions"),
    ({"predictions": ["a"], "references": [[]]}, "references"),
    ({"predictions": ["a"], "references": ["a"], "metrics": ["bleu", "meteor"]}, "metrics"),
    ({"predictions": ["a"], "references": ["a"], "tokenize": "nope"}, "tokenize"),
    ({"predictions": ["a"], "references": ["a"], "predictions_b": ["a", "b"]}, "predictions_b"),
    ({"predictions": ["a"], "references": [["a", "b"]], "metrics": ["classification"]}, "references"),
    ({"predictions": ["a"], "references": ["a"], "metrics": ["classification"], "labels": ["x", "x"]}, "labels"),
    ({"predictions": ["a", "b"], "references": ["a", "b"], "n_resamples": 10}, "n_resamples"),
])
def test_bad_input_names_the_field(kwargs, field):
    with pytest.raises(InvalidInput) as info:
        compute_overlap(**kwargs)
    assert info.value.field == field
