"""Tokens for overlap: lm-eval's decontamination normalisation, or a model's tokenizer.

lm-eval's ``Janitor`` (``lm_eval/decontamination/janitor.py``, the GPT-3 13-gram procedure)
normalises with one ``str.translate`` table: ASCII upper case to lower case, every character of
``string.punctuation`` deleted, nothing else touched (non-ASCII letters keep their case), and
then splits on whitespace. Its ``register_contaminant`` normalises the whole string before
splitting, so a token made only of punctuation ("--", "...") disappears; we follow that rule
everywhere, so that the same n-grams come out for a training document, an output and an eval item.

Tokens carry character offsets into the original text, so a report can show the copied span in
the user's own text rather than in its normalised form.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Protocol

import numpy as np

JANITOR_TABLE = str.maketrans(string.ascii_lowercase + string.ascii_uppercase, string.ascii_lowercase * 2,
                              string.punctuation)
_WORD = re.compile(r"\S+")


def normalize(text: str) -> str:
    """The Janitor's ``normalize_string``: ASCII lower case, ASCII punctuation deleted."""
    return text.translate(JANITOR_TABLE)


def words(text: str) -> list[str]:
    """Normalised whitespace tokens (what the Janitor forms its n-grams from)."""
    return normalize(text).split()


def words_with_offsets(text: str) -> tuple[list[str], np.ndarray]:
    """Normalised tokens and their ``[start, end)`` character spans in ``text`` (shape ``(k, 2)``).

    Normalising each whitespace run on its own gives the same tokens as normalising the whole
    text first: the table deletes characters but never creates or removes whitespace.
    """
    tokens: list[str] = []
    spans: list[tuple[int, int]] = []
    for m in _WORD.finditer(text):
        token = m.group(0).translate(JANITOR_TABLE)
        if token:
            tokens.append(token)
            spans.append((m.start(), m.end()))
    return tokens, np.array(spans, dtype=np.int64).reshape(-1, 2)


def ngrams(tokens: list[str], n: int) -> list[str]:
    """The Janitor's word n-grams: ``n`` consecutive tokens joined by one space."""
    return [" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


class Tokenizer(Protocol):
    """What the index counts in. ``ids`` maps a text to integer token ids (−1 = a token the
    training set never had, which can match nothing); ``spans`` gives each token's characters."""

    name: str

    def tokens(self, text: str) -> list[str]: ...

    def spans(self, text: str) -> np.ndarray: ...


@dataclass
class WordTokenizer:
    """Janitor words (the default: figures comparable with lm-eval and GPT-3's 13-gram rule)."""

    name: str = "words"

    def tokens(self, text: str) -> list[str]:
        return words(text)

    def spans(self, text: str) -> np.ndarray:
        return words_with_offsets(text)[1]


class ModelTokenizer:
    """A Hugging Face tokenizer from a local directory: counts in model tokens (no normalisation,
    as the model sees the text). Loaded lazily; needs the ``local`` extra."""

    def __init__(self, path: str) -> None:
        try:
            from transformers import AutoTokenizer
        except ImportError:
            from judge_service.errors import MissingExtra

            raise MissingExtra("model-token overlap needs transformers: pip install 'judge-service[local]'",
                               field="tokenizer") from None
        try:
            self._tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
        except (OSError, ValueError) as e:
            from judge_service.errors import InvalidInput

            raise InvalidInput(f"tokenizer '{path}' could not be loaded from a local directory: {e}",
                               field="tokenizer") from None
        self.name = f"model:{path}"

    def _encode(self, text: str) -> tuple[list[str], np.ndarray]:
        enc = self._tok(text, add_special_tokens=False, return_offsets_mapping=True)
        ids = enc["input_ids"]
        return [str(i) for i in ids], np.array(enc["offset_mapping"], dtype=np.int64).reshape(-1, 2)

    def tokens(self, text: str) -> list[str]:
        return self._encode(text)[0]

    def spans(self, text: str) -> np.ndarray:
        return self._encode(text)[1]


def tokenizer_for(unit: str) -> Tokenizer:
    """``"words"`` (Janitor words) or ``"model:<local tokenizer dir>"``."""
    if unit == "words":
        return WordTokenizer()
    if unit.startswith("model:") and len(unit) > len("model:"):
        return ModelTokenizer(unit[len("model:"):])
    from judge_service.errors import InvalidInput

    raise InvalidInput(f"unit must be 'words' or 'model:<tokenizer directory>', not '{unit}'", field="unit")
