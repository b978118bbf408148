"""The verified longest spans a text shares with training documents.

Hits of the text's n-grams in the index are checked token by token (a hash collision never
counts), grouped by diagonal (training position − text position) into runs, and each run is
extended token by token past its first and last hit while the tokens still agree, so a span is
an exact common substring, not a count of n-grams. Every common substring of at least n tokens
is found this way; shorter ones are not looked for.

Excluded n-grams (found in the prompt — an echo —, in the reference, or boilerplate of the
training set) give no hits, and a span is never extended over the tokens they cover: copying the
question back, or a system prompt every document has, is not memorisation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from judge_service.memorization.index import OverlapIndex, ngram_hashes, sorted_isin, sorted_unique


@dataclass(frozen=True)
class Span:
    """``length`` tokens of the text from ``start`` equal the training tokens from ``train_start``
    (a global position: document ``doc``, token ``train_start - doc_start`` of it)."""

    start: int
    length: int
    train_start: int
    doc: int

    @property
    def end(self) -> int:
        return self.start + self.length


@dataclass(frozen=True)
class Overlap:
    """What one text shares with the training set."""

    n_tokens: int
    spans: list[Span]  # longest first; one per (text range, document)
    copied_tokens: int  # tokens of the text inside some span
    excluded_ngrams: dict[str, int] = field(default_factory=dict)

    @property
    def longest(self) -> int:
        return self.spans[0].length if self.spans else 0

    @property
    def copied_fraction(self) -> float:
        return self.copied_tokens / self.n_tokens if self.n_tokens else 0.0


def exclusion_hashes(index: OverlapIndex, texts: list[str | None]) -> np.ndarray:
    """Sorted n-gram hashes of the given texts (a prompt and a reference), to exclude."""
    parts = [ngram_hashes(index.ids(t), index.options.n) for t in texts if t]
    return sorted_unique(np.concatenate(parts)) if parts else np.empty(0, dtype=np.uint64)


def find_spans(index: OverlapIndex, ids: np.ndarray, exclude: np.ndarray | None = None,
               max_per_ngram: int = 200) -> Overlap:
    """Every verified common span of ≥ n tokens between ``ids`` and the training documents."""
    n = index.options.n
    hashes = ngram_hashes(ids, n)
    echo = sorted_isin(hashes, exclude) if exclude is not None else np.zeros(len(hashes), dtype=bool)
    boiler = sorted_isin(hashes, index.boilerplate)
    excluded = {"echo_or_reference": int(echo.sum()), "boilerplate": int((boiler & ~echo).sum())}
    # Tokens covered by an excluded n-gram: a span may not grow over them.
    blocked = np.zeros(len(ids) + 1, dtype=np.int64)
    starts = np.flatnonzero(echo | boiler)
    np.add.at(blocked, starts, 1)
    np.add.at(blocked, starts + n, -1)
    allowed = np.cumsum(blocked)[:len(ids)] == 0

    usable = np.flatnonzero(~(echo | boiler))
    q, p = index.hits(hashes[usable], max_per_ngram=max_per_ngram)
    if len(q) == 0:
        return Overlap(len(ids), [], 0, excluded)
    q = usable[q]
    offsets = np.arange(n)
    tokens = index.tokens
    same = (np.asarray(tokens[p[:, None] + offsets]) == ids[q[:, None] + offsets]).all(axis=1)
    q, p = q[same], p[same]
    if len(q) == 0:
        return Overlap(len(ids), [], 0, excluded)

    diagonal = p - q
    order = np.lexsort((q, diagonal))
    q, diagonal = q[order], diagonal[order]
    breaks = np.flatnonzero((np.diff(diagonal) != 0) | (np.diff(q) != 1)) + 1
    run_starts = np.concatenate([[0], breaks])
    run_ends = np.concatenate([breaks, [len(q)]]) - 1
    doc_starts = index.doc_starts
    spans: list[Span] = []
    for a, b in zip(run_starts.tolist(), run_ends.tolist()):
        start, end = int(q[a]), int(q[b]) + n
        train = start + int(diagonal[a])
        doc = int(np.searchsorted(doc_starts, train, side="right") - 1)
        doc_lo, doc_hi = int(doc_starts[doc]), int(doc_starts[doc + 1])
        while start > 0 and train > doc_lo and allowed[start - 1] and tokens[train - 1] == ids[start - 1]:
            start, train = start - 1, train - 1
        stop = train + (end - start)
        while end < len(ids) and stop < doc_hi and allowed[end] and tokens[stop] == ids[end]:
            end, stop = end + 1, stop + 1
        spans.append(Span(start, end - start, train, doc))
    unique = sorted(set(spans), key=lambda s: (-s.length, s.start, s.doc, s.train_start))
    covered = np.zeros(len(ids) + 1, dtype=np.int64)
    for s in unique:
        covered[s.start] += 1
        covered[s.end] -= 1
    copied = int((np.cumsum(covered)[:len(ids)] > 0).sum())
    return Overlap(len(ids), unique, copied, excluded)
