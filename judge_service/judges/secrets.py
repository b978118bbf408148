"""API keys: read once from the environment by name, and kept out of every message we emit.

A key is never in the judges config (it names the variable), never in a log line and never in an
exception: providers echo keys back in their error bodies ("Incorrect API key provided:
sk-proj-ab***wxyz"), so every provider message passes through ``redact`` before it reaches a
``JudgeError``.
"""

from __future__ import annotations

import os
import re

from judge_service.errors import JudgeAuthError
from judge_service.judges.config import JudgeSpec

REDACTED = "[REDACTED]"

# Things that look like provider keys even when we do not know them: OpenAI `sk-...`/`sk-proj-...`,
# Anthropic `sk-ant-...`, and masked echoes such as `sk-ab****wxyz`.
_KEY_LIKE = re.compile(r"\bsk[-_][A-Za-z0-9_\-\*\.]{3,}")
# A run of characters that could be (part of) a key as a provider would print it.
_WORD = re.compile(r"[A-Za-z0-9_\-\*\.\+/=]{6,}")
_MASK = re.compile(r"\*+|\.{3,}|…")
# Echoes shorter than this are not treated as fragments of our key (too many false positives).
_MIN_FRAGMENT = 6


def redact(text: str, secrets: tuple[str, ...] | list[str] = ()) -> str:
    """``text`` with every known secret, any prefix/suffix echo of one, and key-like words removed."""
    if not text:
        return text
    known = [s for s in secrets if s and len(s) >= 4]
    for s in sorted(known, key=len, reverse=True):
        text = text.replace(s, REDACTED)

    def _word(m: re.Match[str]) -> str:
        word = m.group(0)
        # A sentence's full stop is not part of the key.
        tail = word[len(word.rstrip(".")):] if not word.endswith("...") else ""
        word = word[: len(word) - len(tail)]
        pieces = [p for p in _MASK.split(word) if p]
        masked = len(pieces) > 1 or "*" in word
        for s in known:
            for p in pieces:
                # A verbatim fragment of the key, or around a mask the visible head/tail of it.
                if (len(p) >= _MIN_FRAGMENT and p in s) or (masked and len(p) >= 4 and (s.startswith(p) or s.endswith(p))):
                    return REDACTED + tail
        return word + tail

    text = _WORD.sub(_word, text)
    return _KEY_LIKE.sub(REDACTED, text)


def read_api_key(spec: JudgeSpec, default_env: str | None, *, required: bool = True) -> tuple[str | None, str | None]:
    """(key, variable name). The variable is ``spec.api_key_env`` or the provider's default.

    A named variable that is unset is an error that names the VARIABLE, never a value.
    With ``required=False`` and no variable named, returns (None, None).
    """
    env = spec.api_key_env or default_env
    if env is None:
        if required:
            raise JudgeAuthError(f"judge '{spec.name}': no API key variable configured; set api_key_env in the judges config")
        return None, None
    key = os.environ.get(env)
    if not key:
        raise JudgeAuthError(
            f"judge '{spec.name}': environment variable {env} is not set; "
            f"export {env}=<your {spec.provider} API key> before starting the service (or set api_key_env to another variable)"
        )
    return key, env
