"""Contamination of an eval set by the training set, per item, by four rules.

- ``ngram_hit``: any verified 13-gram of the item (not boilerplate) occurs in a training
  document: GPT-3's and lm-eval's decontamination rule.
- ``palm``: at least 70% of the item's 8-grams occur in the training set (PaLM, Chowdhery et al.
  2022, §8: "an example is contaminated if ≥ 70% of its 8-grams appear at least once"). Items
  shorter than 8 tokens have no 8-grams, so no fraction.
- ``longest_span``: the longest verified common substring with any training document (tokens).
- ``near_duplicates``: training documents whose MinHash signature (5-gram word shingles,
  datasketch, LSH at ``minhash_threshold``) estimates a Jaccard similarity at or above the
  threshold: reworded or re-templated copies the n-gram rules can miss.

``contaminated`` is the chosen rule (default ``any`` of the three).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from judge_service.errors import InvalidInput
from judge_service.memorization.excerpts import Match, matches
from judge_service.memorization.index import MINHASH_SCHEME, OverlapIndex, minhash_signatures, ngram_hashes, shingle_hashes, sorted_isin
from judge_service.memorization.spans import find_spans

RULES = ("any", "ngram", "palm", "minhash")


@dataclass(frozen=True)
class EvalItem:
    item_id: str
    text: str


@dataclass(frozen=True)
class NearDuplicate:
    doc_index: int
    doc_id: str
    jaccard: float  # MinHash estimate


@dataclass(frozen=True)
class ItemContamination:
    item_id: str
    n_tokens: int
    ngram_hit: bool
    palm_fraction: float | None
    palm_contaminated: bool
    longest_span: int
    near_duplicates: list[NearDuplicate]
    contaminated: bool
    matches: list[Match]


@dataclass(frozen=True)
class ContaminationOptions:
    palm_threshold: float = 0.7
    minhash_threshold: float = 0.8
    rule: str = "any"
    max_matches: int = 3

    def check(self) -> None:
        if self.rule not in RULES:
            raise InvalidInput(f"rule must be one of {list(RULES)}, not '{self.rule}'", field="rule")


def _lsh(index: OverlapIndex, threshold: float) -> Any:
    if threshold not in index.lsh_cache:
        from datasketch import MinHash, MinHashLSH

        lsh = MinHashLSH(threshold=threshold, num_perm=index.options.num_perm)
        with lsh.insertion_session() as session:
            for doc, row in enumerate(np.asarray(index.minhash)):
                session.insert(doc, MinHash(num_perm=index.options.num_perm, hashvalues=row, scheme=MINHASH_SCHEME))
        index.lsh_cache[threshold] = lsh
    return index.lsh_cache[threshold]


def near_duplicates(index: OverlapIndex, ids: np.ndarray, threshold: float) -> list[NearDuplicate]:
    if not index.options.minhash or len(ids) == 0 or index.n_docs == 0:
        return []
    from datasketch import MinHash

    signature = minhash_signatures([shingle_hashes(ids, index.options.shingle)], index.options.num_perm)[0]
    query = MinHash(num_perm=index.options.num_perm, hashvalues=signature, scheme=MINHASH_SCHEME)
    found = []
    for doc in _lsh(index, threshold).query(query):
        jaccard = float(np.mean(np.asarray(index.minhash[doc]) == signature))
        if jaccard >= threshold:
            found.append(NearDuplicate(int(doc), index.doc_ids[int(doc)], jaccard))
    return sorted(found, key=lambda d: (-d.jaccard, d.doc_index))


def palm_fraction(index: OverlapIndex, ids: np.ndarray) -> float | None:
    grams = ngram_hashes(ids, index.options.palm_n)
    if len(grams) == 0:
        return None
    return float(sorted_isin(grams, index.palm).mean())


def screen_items(index: OverlapIndex, items: Sequence[EvalItem],
                 options: ContaminationOptions = ContaminationOptions()) -> list[ItemContamination]:
    options.check()
    out = []
    for item in items:
        ids = index.ids(item.text)
        overlap = find_spans(index, ids)
        fraction = palm_fraction(index, ids)
        palm = fraction is not None and fraction >= options.palm_threshold
        dups = near_duplicates(index, ids, options.minhash_threshold)
        hit = overlap.longest >= index.options.n
        verdict = {"any": hit or palm or bool(dups), "ngram": hit, "palm": palm, "minhash": bool(dups)}[options.rule]
        out.append(ItemContamination(item.item_id, len(ids), hit, fraction, palm, overlap.longest, dups, verdict,
                                     matches(index, item.text, overlap.spans, options.max_matches)))
    return out
