"""The n-gram index of a training set: rolling hashes in a sorted numpy array, verified by tokens.

Layout (each an ``.npy`` file, memory-mapped on load, so a big index costs only the pages a
lookup touches):

    tokens      int32   every document's token ids, concatenated (the verification text)
    doc_starts  int64   where each document starts in ``tokens`` (n_docs + 1 entries)
    hashes      uint64  sorted hashes of every n-gram (n = 13) that is not boilerplate
    positions   int64   the n-gram's start in ``tokens``, aligned with ``hashes``: (doc, offset)
    boilerplate uint64  sorted hashes of n-grams in more than ``boilerplate_share`` of documents
    palm        uint64  sorted distinct hashes of every 8-gram (PaLM's contamination rule)
    minhash     uint64  one MinHash signature per document (datasketch, 5-gram shingles)
    text.bin / text_offsets.npy   the original document texts, for excerpts beside a copied span

Memory: 4 bytes per token (tokens) + 16 per indexed n-gram (hash + position) + 8 per distinct
8-gram + 8 × num_perm per document, about 28 bytes per training token; 300 M tokens ≈ 8.4 GB on
disk, memory-mapped. A hash is a polynomial over splitmix64-mixed token ids mod 2^64; every hit
is checked token by token before it is reported, so a collision can cost time but never a false flag.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from judge_service.memorization.corpus import Document
from judge_service.memorization.tokens import Tokenizer, tokenizer_for

_BASE = np.uint64(0x100000001B3)  # odd, so the polynomial is invertible mod 2^64
MINHASH_SCHEME = "affine32"  # datasketch ≥ 2: the scheme must be named when signatures are reused
ARRAYS = ("tokens", "doc_starts", "hashes", "positions", "boilerplate", "palm", "minhash", "text_offsets")


@dataclass(frozen=True)
class IndexOptions:
    n: int = 13
    palm_n: int = 8
    unit: str = "words"
    boilerplate_share: float = 0.01
    boilerplate_min_docs: int = 10
    minhash: bool = True
    num_perm: int = 128
    shingle: int = 5

    def boilerplate_threshold(self, n_docs: int) -> int:
        """An n-gram in more documents than this is boilerplate (a template, a system prompt)."""
        return max(self.boilerplate_min_docs, int(self.boilerplate_share * n_docs))


def _mix(ids: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads consecutive ids over 64 bits before the polynomial."""
    with np.errstate(over="ignore"):
        z = ids.astype(np.int64).view(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def ngram_hashes(ids: np.ndarray, n: int) -> np.ndarray:
    """Hash of every n-gram of ``ids`` (``len(ids) - n + 1`` values; none when shorter than n)."""
    count = len(ids) - n + 1
    if count <= 0:
        return np.empty(0, dtype=np.uint64)
    mixed = _mix(ids)
    h = np.zeros(count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(n):
            h = h * _BASE + mixed[j:j + count]
    return h


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values (numpy's hash-based ``unique`` is several times slower on uint64)."""
    if len(values) == 0:
        return values
    ordered = np.sort(values)
    distinct: np.ndarray = ordered[np.concatenate([[True], ordered[1:] != ordered[:-1]])]
    return distinct


def sorted_isin(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    if len(sorted_set) == 0 or len(values) == 0:
        return np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_set, values), len(sorted_set) - 1)
    return np.asarray(sorted_set[at] == values)


class OverlapIndex:
    """A built or loaded index. ``ids`` turns a text into this index's token ids."""

    def __init__(self, options: IndexOptions, vocab: dict[str, int], doc_ids: list[str],
                 arrays: dict[str, np.ndarray], text: bytes | np.ndarray) -> None:
        self.options = options
        self.vocab = vocab
        self.doc_ids = doc_ids
        self.tokens = arrays["tokens"]
        self.doc_starts = arrays["doc_starts"]
        self.hashes = arrays["hashes"]
        self.positions = arrays["positions"]
        self.boilerplate = arrays["boilerplate"]
        self.palm = arrays["palm"]
        self.minhash = arrays["minhash"]
        self.text_offsets = arrays["text_offsets"]
        self._text = text
        self.tokenizer: Tokenizer = tokenizer_for(options.unit)
        # datasketch MinHashLSH over the signatures, one per Jaccard threshold, built on first use
        self.lsh_cache: dict[float, Any] = {}

    # --- facts ------------------------------------------------------------------------------

    @property
    def n_docs(self) -> int:
        return len(self.doc_starts) - 1

    @property
    def n_tokens(self) -> int:
        return int(self.doc_starts[-1])

    def nbytes(self) -> int:
        arrays = (self.tokens, self.doc_starts, self.hashes, self.positions, self.boilerplate, self.palm,
                  self.minhash, self.text_offsets)
        return int(sum(a.nbytes for a in arrays)) + len(self._text)

    def doc_text(self, doc: int) -> str:
        start, end = int(self.text_offsets[doc]), int(self.text_offsets[doc + 1])
        return bytes(self._text[start:end]).decode("utf-8")

    def doc_of(self, positions: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.doc_starts, positions, side="right") - 1

    # --- queries ----------------------------------------------------------------------------

    def ids(self, text: str) -> np.ndarray:
        """Token ids of ``text``; a token the training set never had gets its own negative id,
        which matches nothing here but keeps shingles distinct for MinHash."""
        vocab = self.vocab
        unknown: dict[str, int] = {}
        return np.array([vocab[t] if t in vocab else -1 - unknown.setdefault(t, len(unknown))
                         for t in self.tokenizer.tokens(text)], dtype=np.int64)

    def hits(self, query_hashes: np.ndarray, max_per_ngram: int = 200) -> tuple[np.ndarray, np.ndarray]:
        """``(query n-gram index, training position)`` for every indexed occurrence of each hash
        (at most ``max_per_ngram`` each: an n-gram repeated that often is near-boilerplate)."""
        lo = np.searchsorted(self.hashes, query_hashes, side="left")
        hi = np.searchsorted(self.hashes, query_hashes, side="right")
        counts = np.minimum(hi - lo, max_per_ngram)
        total = int(counts.sum())
        if total == 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        query = np.repeat(np.arange(len(query_hashes)), counts)
        within = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
        return query, np.asarray(self.positions[np.repeat(lo, counts) + within], dtype=np.int64)

    # --- persistence ------------------------------------------------------------------------

    def save(self, directory: Path) -> int:
        """Write the index under ``directory``; the bytes written."""
        directory.mkdir(parents=True, exist_ok=True)
        for name in ARRAYS:
            np.save(directory / f"{name}.npy", getattr(self, name))
        (directory / "text.bin").write_bytes(bytes(self._text))
        (directory / "vocab.json").write_text(json.dumps(list(self.vocab)), encoding="utf-8")
        (directory / "doc_ids.json").write_text(json.dumps(self.doc_ids), encoding="utf-8")
        (directory / "options.json").write_text(json.dumps(asdict(self.options)), encoding="utf-8")
        return sum(p.stat().st_size for p in directory.iterdir())

    @classmethod
    def load(cls, directory: Path) -> OverlapIndex:
        options = IndexOptions(**json.loads((directory / "options.json").read_text(encoding="utf-8")))
        words = json.loads((directory / "vocab.json").read_text(encoding="utf-8"))
        doc_ids = json.loads((directory / "doc_ids.json").read_text(encoding="utf-8"))
        arrays = {name: np.load(directory / f"{name}.npy", mmap_mode="r") for name in ARRAYS}
        text = np.memmap(directory / "text.bin", dtype=np.uint8, mode="r") if (directory / "text.bin").stat().st_size \
            else b""
        return cls(options, {w: i for i, w in enumerate(words)}, doc_ids, arrays, text)


def minhash_signatures(doc_shingles: Iterable[np.ndarray], num_perm: int) -> np.ndarray:
    """One datasketch MinHash per document over its shingle hashes (32-bit, as datasketch's own
    sha1_hash32 gives), all with the same permutations so any two signatures compare."""
    from datasketch import MinHash

    template = MinHash(num_perm=num_perm, seed=1, scheme=MINHASH_SCHEME)
    rows = []
    for shingles in doc_shingles:
        m = MinHash(num_perm=num_perm, seed=1, hashfunc=int, permutations=template.permutations,
                    scheme=MINHASH_SCHEME)
        m.update_batch((shingles >> np.uint64(32)).tolist())
        rows.append(m.hashvalues)
    return np.array(rows, dtype=np.uint64).reshape(-1, num_perm)


def shingle_hashes(ids: np.ndarray, shingle: int) -> np.ndarray:
    """Distinct word-shingle hashes; a text shorter than a shingle is one shingle of itself."""
    hashes = ngram_hashes(ids, min(shingle, len(ids))) if len(ids) else np.empty(0, dtype=np.uint64)
    return sorted_unique(hashes)


def build_index(docs: Iterable[Document], options: IndexOptions = IndexOptions()) -> OverlapIndex:
    """Tokenise every document, hash its n-grams, sort, and mark boilerplate."""
    tokenizer = tokenizer_for(options.unit)
    vocab: dict[str, int] = {}
    chunks: list[np.ndarray] = []
    texts: list[bytes] = []
    doc_ids: list[str] = []
    for doc in docs:
        ids = np.array([vocab.setdefault(t, len(vocab)) for t in tokenizer.tokens(doc.text)], dtype=np.int32)
        chunks.append(ids)
        texts.append(doc.text.encode("utf-8"))
        doc_ids.append(doc.doc_id)
    if not doc_ids:
        from judge_service.errors import InvalidInput

        raise InvalidInput("the training set has no records; upload at least one", field="file")
    lengths = np.array([len(c) for c in chunks], dtype=np.int64)
    doc_starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    tokens = np.concatenate(chunks) if chunks else np.empty(0, dtype=np.int32)
    text_offsets = np.concatenate([[0], np.cumsum([len(t) for t in texts])]).astype(np.int64)

    def within_docs(n: int) -> tuple[np.ndarray, np.ndarray]:
        hashes = ngram_hashes(tokens, n)
        starts = np.arange(len(hashes), dtype=np.int64)
        ends_of_doc = np.repeat(doc_starts[1:], lengths)[:len(hashes)]
        keep = starts + n <= ends_of_doc  # an n-gram never spans two documents
        return hashes[keep], starts[keep]

    hashes, positions = within_docs(options.n)
    order = np.argsort(hashes, kind="stable")  # stable: positions (and so documents) ascend in a group
    hashes, positions = hashes[order], positions[order]
    boilerplate = np.empty(0, dtype=np.uint64)
    if len(hashes):
        docs_of = np.searchsorted(doc_starts, positions, side="right") - 1
        new_group = np.concatenate([[True], hashes[1:] != hashes[:-1]])
        new_doc = new_group | np.concatenate([[True], docs_of[1:] != docs_of[:-1]])
        group_starts = np.flatnonzero(new_group)
        doc_freq = np.add.reduceat(new_doc.astype(np.int64), group_starts)
        is_boiler = doc_freq > options.boilerplate_threshold(len(doc_ids))
        boilerplate = hashes[group_starts[is_boiler]]
        drop = np.repeat(is_boiler, np.diff(np.concatenate([group_starts, [len(hashes)]])))
        hashes, positions = hashes[~drop], positions[~drop]
    palm = sorted_unique(within_docs(options.palm_n)[0])
    if options.minhash:
        signatures = minhash_signatures((shingle_hashes(c, options.shingle) for c in chunks), options.num_perm)
    else:
        signatures = np.empty((0, options.num_perm), dtype=np.uint64)
    arrays = {"tokens": tokens, "doc_starts": doc_starts, "hashes": hashes, "positions": positions,
              "boilerplate": boilerplate, "palm": palm, "minhash": signatures, "text_offsets": text_offsets}
    return OverlapIndex(options, vocab, doc_ids, arrays, b"".join(texts))
