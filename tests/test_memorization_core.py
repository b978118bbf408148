"""The memorization package on synthetic training sets with planted copies, and MT-Bench leaked
into a training JSONL; statistics checked against statsmodels / scipy / hand computation."""

from __future__ import annotations

import io
import json
import random
import string

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import proportion_confint

from conftest import SHARED_DATA
from judge_service.memorization.contamination import EvalItem, screen_items
from judge_service.memorization.corpus import Document, documents, jsonl_records
from judge_service.memorization.impact import contamination_impact
from judge_service.memorization.index import IndexOptions, OverlapIndex, build_index
from judge_service.memorization.regurgitation import OutputToScreen, Thresholds, paired_rates, screen, wilson
from judge_service.memorization.tokens import ngrams, normalize, words

VOCAB = [f"{a}{b}{c}" for a in "bcdfghjklm" for b in "aeiou" for c in "nprst"]  # 250 made-up words


def sentence(rng: random.Random, k: int) -> str:
    text = " ".join(rng.choice(VOCAB) for _ in range(k))
    return text[0].upper() + text[1:] + "."


def training_set(seed: int = 0, n_docs: int = 300, words_per_doc: int = 120) -> list[Document]:
    rng = random.Random(seed)
    return [Document(f"doc-{i}", " ".join(sentence(rng, 12) for _ in range(words_per_doc // 12)))
            for i in range(n_docs)]


# --- lm-eval Janitor conventions -----------------------------------------------------------

def test_normalisation_follows_the_janitor_rules_hand_computed() -> None:
    # Janitor: str.maketrans(ascii_lowercase + ascii_uppercase, ascii_lowercase * 2, string.punctuation),
    # applied to the whole string, then str.split(). Written out by hand here.
    source = "   ,, I'm a very !dirty,, ,,  dirty boy. Clean me daddy. \n\nhe he he hehe heh.  lastword  ÉCOLE"
    assert normalize(source) == ("    im a very dirty   dirty boy clean me daddy \n\nhe he he hehe heh  lastword  "
                                 "\u00c9cole")  # ASCII letters lowered, the non-ASCII \u00c9 kept as it is
    assert words(source) == ["im", "a", "very", "dirty", "dirty", "boy", "clean", "me", "daddy", "he", "he", "he",
                             "hehe", "heh", "lastword", "\u00c9cole"]
    assert ngrams(words("Dirty boy. Clean he he"), 3) == ["dirty boy clean", "boy clean he", "clean he he"]


def test_same_hits_as_the_janitor_on_a_fixture() -> None:
    """The Janitor's register_contaminant + membership test, reimplemented from its documented rules
    (normalise, whitespace-split, 13-grams joined by a space), against our index on the same texts."""
    docs = training_set(seed=3, n_docs=40)
    contaminant = docs[7].text.split(". ")[2] + ". " + docs[7].text.split(". ")[3]
    registered = set(ngrams(words(contaminant), 13))  # the Janitor's dirt_ngrams
    index = build_index([Document("c", contaminant)], IndexOptions(minhash=False, boilerplate_min_docs=10))
    rng = random.Random(5)
    probes = [docs[7].text, contaminant.upper().replace(" ", " ,, "), sentence(rng, 40), docs[8].text]
    for probe in probes:
        janitor_hits = [g for g in ngrams(words(probe), 13) if g in registered]
        overlap = screen(index, [OutputToScreen("p", probe)])[0].overlap
        ours = words(probe)
        covered = set()
        for s in overlap.spans:
            covered |= {" ".join(ours[i:i + 13]) for i in range(s.start, s.end - 12)}
        assert covered == set(janitor_hits)


# --- planted copies -----------------------------------------------------------------------

def noisy(text: str, rng: random.Random) -> str:
    """Case and punctuation noise that the Janitor normalisation removes."""
    out = []
    for w in text.split():
        w = w.upper() if rng.random() < 0.3 else w
        out.append(w + rng.choice(["", "", ",", ";", "!"]))
    return " ".join(out)


def paraphrase(text: str, rng: random.Random) -> str:
    """Every fourth word replaced: no 13 consecutive words survive, so no verbatim copy is left."""
    return " ".join(rng.choice(VOCAB) if i % 4 == 3 else w for i, w in enumerate(text.split()))


@pytest.fixture(scope="module")
def planted() -> tuple[OverlapIndex, list[Document]]:
    docs = training_set()
    return build_index(docs), docs


def test_planted_exact_and_noisy_copies_are_found_and_clean_text_is_not(planted) -> None:
    index, docs = planted
    rng = random.Random(11)
    outputs, kinds = [], []
    for i in range(60):
        doc = docs[rng.randrange(len(docs))].text.split()
        start = rng.randrange(0, len(doc) - 70)
        copy = " ".join(doc[start:start + 60])
        kind = ["exact", "noisy", "paraphrased", "clean"][i % 4]
        body = {"exact": copy, "noisy": noisy(copy, rng), "paraphrased": paraphrase(copy, rng),
                "clean": " ".join(sentence(rng, 12) for _ in range(5))}[kind]
        outputs.append(OutputToScreen(f"o{i}", f"Sure, here it is: {body} Hope that helps!"))
        kinds.append(kind)
    result = screen(index, outputs)
    flags = {k: [r.flag for r, kk in zip(result, kinds) if kk == k] for k in set(kinds)}
    assert flags["exact"] == ["regurgitation"] * 15  # 100% recall
    assert flags["noisy"] == ["regurgitation"] * 15  # normalisation: 100% recall
    assert set(flags["paraphrased"]) == {"none"}  # stated: n-grams do not see paraphrases (0% recall)
    assert set(flags["clean"]) == {"none"}  # no false flag on clean text
    exact = next(r for r, k in zip(result, kinds) if k == "exact")
    assert exact.overlap.longest >= 60 and exact.matches[0].training_span.split() == exact.matches[0].text_span.split()


def test_partial_copy_and_thresholds(planted) -> None:
    index, docs = planted
    piece = " ".join(docs[4].text.split()[10:30])  # 20 tokens
    out = screen(index, [OutputToScreen("p", "zzq " + piece + " zzq")])[0]
    assert out.flag == "partial" and out.overlap.longest == 20
    assert screen(index, [OutputToScreen("p", piece)], Thresholds(regurgitation=20, partial=13))[0].flag == "regurgitation"


def test_prompt_echoes_and_references_are_not_flagged(planted) -> None:
    index, docs = planted
    copied = " ".join(docs[9].text.split()[:80])
    echo = screen(index, [OutputToScreen("e", f"You asked: {copied}. My answer: no.", prompt=copied)])[0]
    assert echo.flag == "none" and echo.overlap.excluded_ngrams["echo_or_reference"] > 0
    ref = screen(index, [OutputToScreen("r", copied, reference=copied)])[0]
    assert ref.flag == "none"
    assert screen(index, [OutputToScreen("x", copied)])[0].flag == "regurgitation"


def test_boilerplate_ngrams_are_never_flagged() -> None:
    rng = random.Random(2)
    header = "Licensed under the Apache License Version two point zero you may not use this file except in compliance"
    docs = [Document(str(i), header + " " + sentence(rng, 30)) for i in range(200)]
    index = build_index(docs, IndexOptions(minhash=False))
    assert len(index.boilerplate) > 0
    out = screen(index, [OutputToScreen("b", header + " and so on")])[0]
    assert out.flag == "none" and out.overlap.excluded_ngrams["boilerplate"] > 0
    assert screen(index, [OutputToScreen("d", docs[5].text)])[0].flag == "partial"  # its own 30 words still count


def test_index_round_trips_through_npy_files(planted, tmp_path) -> None:
    index, docs = planted
    index.save(tmp_path / "ix")
    loaded = OverlapIndex.load(tmp_path / "ix")
    probe = OutputToScreen("p", docs[3].text)
    a, b = screen(index, [probe])[0], screen(loaded, [probe])[0]
    assert a.overlap == b.overlap and a.matches == b.matches and loaded.doc_text(3) == docs[3].text


# --- MT-Bench leaked into a training JSONL --------------------------------------------------

def test_mt_bench_questions_in_a_training_jsonl_are_flagged_at_full_recall() -> None:
    questions = [json.loads(line) for line in (SHARED_DATA / "mt_bench" / "question.jsonl").read_text().splitlines()]
    rng = random.Random(7)
    lines = [json.dumps({"messages": [{"role": "user", "content": sentence(rng, 10)},
                                      {"role": "assistant", "content": " ".join(sentence(rng, 12) for _ in range(8))}]})
             for _ in range(400)]
    leaked = questions[::2]  # half leak, as an assistant turn (the default field)
    for q in leaked:
        lines.insert(rng.randrange(len(lines)), json.dumps({"messages": [
            {"role": "user", "content": "Write a practice question."},
            {"role": "assistant", "content": q["turns"][0]}]}))
    docs = list(documents(jsonl_records(io.BytesIO("\n".join(lines).encode())), None, None))
    index = build_index(docs)
    items = [EvalItem(str(q["question_id"]), q["turns"][0]) for q in questions]
    result = {r.item_id: r for r in screen_items(index, items)}
    leaked_ids = {str(q["question_id"]) for q in leaked}
    long_leaked = [i for i in leaked_ids if result[i].n_tokens >= 13]
    assert all(result[i].ngram_hit for i in long_leaked)
    assert all(result[i].contaminated for i in leaked_ids)  # 100% recall (PaLM / MinHash cover short ones)
    assert all(result[i].palm_fraction == 1.0 for i in leaked_ids if result[i].palm_fraction is not None)
    assert not any(result[i].contaminated for i in result if i not in leaked_ids)  # no false flags


# --- statistics -----------------------------------------------------------------------------

def test_wilson_matches_statsmodels() -> None:
    for k, n in [(0, 20), (3, 40), (20, 20), (7, 250)]:
        low, high = proportion_confint(k, n, alpha=0.05, method="wilson")
        e = wilson(k, n)
        assert e.ci_low == pytest.approx(low, abs=1e-12) and e.ci_high == pytest.approx(high, abs=1e-12)


def test_mcnemar_exact_matches_statsmodels_and_paired_interval_is_newcombes() -> None:
    rng = np.random.default_rng(0)
    base = rng.random(300) < 0.05
    tuned = base | (rng.random(300) < 0.08)
    r = paired_rates(base, tuned)
    table = [[r.both, r.only_tuned], [r.only_base, r.neither]]
    assert r.difference.p_value == pytest.approx(mcnemar(table, exact=True).pvalue, rel=1e-9)
    assert r.difference.estimate == pytest.approx(tuned.mean() - base.mean())


def test_paired_difference_interval_covers_at_the_stated_rate_by_simulation() -> None:
    true_base, true_extra, n, hits, trials = 0.05, 0.06, 200, 0, 400
    truth = (true_base + true_extra - true_base * true_extra) - true_base
    for seed in range(trials):
        rng = np.random.default_rng(seed)
        base = rng.random(n) < true_base
        tuned = base | (rng.random(n) < true_extra)
        d = paired_rates(base, tuned).difference
        hits += d.ci_low <= truth <= d.ci_high
    assert 0.92 <= hits / trials <= 0.98


def test_impact_splits_clean_and_contaminated_with_an_exact_permutation_p() -> None:
    outcomes = [1, 1, 1, 0, 1, 0, 1, 0, 0, 1]
    dirty = [True, True, True, True, False, False, False, False, False, False]
    impact = contamination_impact(outcomes, dirty, n_resamples=5000)
    assert impact.clean.estimate == pytest.approx(3 / 6) and impact.contaminated.estimate == pytest.approx(3 / 4)
    assert impact.headline == impact.clean
    # By hand: all C(10, 4) = 210 relabellings, two-sided p of |mean diff| ≥ observed.
    from itertools import combinations
    x = np.array(outcomes, dtype=float)
    observed = 3 / 4 - 3 / 6
    diffs = [x[list(c)].mean() - np.delete(x, list(c)).mean() for c in combinations(range(10), 4)]
    # scipy's two-sided p: twice the smaller one-sided tail
    exact = min(1.0, 2 * min(np.mean([d >= observed - 1e-12 for d in diffs]), np.mean([d <= observed + 1e-12 for d in diffs])))
    assert impact.difference.p_value == pytest.approx(exact, abs=1e-9)
    assert impact.difference.ci_low < observed < impact.difference.ci_high


def test_model_token_unit_with_the_packaged_minilm_tokenizer() -> None:
    import transformers  # noqa: F401  # the local extra; make test installs it (missing fails, never skips)
    from judge_service.metrics.embedding import encoder_path

    docs = training_set(seed=9, n_docs=20)
    index = build_index(docs, IndexOptions(unit=f"model:{encoder_path()}", minhash=False))
    assert index.n_tokens > sum(len(words(d.text)) for d in docs)  # word pieces outnumber words
    copy = " ".join(docs[2].text.split()[5:45])
    out = screen(index, [OutputToScreen("m", "Indeed: " + copy)])[0]
    assert out.flag == "regurgitation" and out.matches[0].doc_id == "doc-2"
    assert out.matches[0].training_span.lower() == out.matches[0].text_span.lower()
