"""A copied span shown beside the training document it came from, in both original texts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from judge_service.memorization.index import OverlapIndex
from judge_service.memorization.spans import Span

CONTEXT_CHARS = 80
MAX_SPAN_CHARS = 2000


@dataclass(frozen=True)
class Match:
    doc_index: int
    doc_id: str
    doc_token_offset: int  # where the span starts in the training document, in tokens
    text_token_offset: int  # where it starts in the output / eval item
    length: int  # tokens
    text_span: str  # the copied characters as the output has them
    training_span: str  # the same tokens as the training document has them
    training_before: str
    training_after: str
    truncated: bool


def _chars(spans: np.ndarray, start: int, length: int) -> tuple[int, int]:
    return int(spans[start, 0]), int(spans[start + length - 1, 1])


def _cut(text: str) -> tuple[str, bool]:
    return (text, False) if len(text) <= MAX_SPAN_CHARS else (text[:MAX_SPAN_CHARS] + " …", True)


def matches(index: OverlapIndex, text: str, spans: list[Span], limit: int = 5) -> list[Match]:
    """The first ``limit`` spans (longest first) with their characters on both sides."""
    if not spans:
        return []
    text_spans = index.tokenizer.spans(text)
    out = []
    for span in spans[:limit]:
        doc_text = index.doc_text(span.doc)
        doc_spans = index.tokenizer.spans(doc_text)
        offset = span.train_start - int(index.doc_starts[span.doc])
        a, b = _chars(text_spans, span.start, span.length)
        c, d = _chars(doc_spans, offset, span.length)
        text_part, cut_a = _cut(text[a:b])
        train_part, cut_b = _cut(doc_text[c:d])
        out.append(Match(span.doc, index.doc_ids[span.doc], offset, span.start, span.length, text_part, train_part,
                         doc_text[max(0, c - CONTEXT_CHARS):c], doc_text[d:d + CONTEXT_CHARS], cut_a or cut_b))
    return out
