"""Training data against outputs and eval sets: verbatim regurgitation and contamination.

    tokens.py        lm-eval Janitor normalisation, word tokens with character offsets (or model tokens)
    corpus.py        reading a training set (JSONL / CSV / chat ``messages``) into documents
    index.py         the n-gram index: rolling hashes in sorted numpy arrays, boilerplate, .npy files
    spans.py         verified longest copied spans between a text and the training documents
    regurgitation.py screening outputs, flags, base vs tuned (difference CI, McNemar exact)
    contamination.py eval items: 13-gram hit, PaLM 8-gram rule, longest substring, MinHash
    impact.py        per-item outcomes split into clean vs contaminated (CIs, permutation test)
    store.py         the tables and the on-disk home of indexes (reused by content hash)

Everything here except ``store.py`` is pure: arrays and dataclasses in, dataclasses out.
"""
