"""How the fake judge server answers a length-probe rewrite request (engine/rewrite.py), deterministically.

``verbose``: the original followed by padding sentences that restate without adding, up to the
requested length; ``concise``: the original cut at a word boundary near the requested length. The same request
always gets the same text, so runs with probes are reproducible against the fake server.
"""

from __future__ import annotations

import re

from judge_service.engine.rewrite import KINDS, MARKER

_ORIGINAL = re.compile(r"<original>\n(.*?)\n</original>", re.DOTALL)
PADDING = ("To put the same point another way, the answer above already covers it.",
           "In other words, what was said still holds.",
           "Restating this once more for clarity, nothing changes.")


def rewrite_reply(prompt: str) -> str | None:
    """The rewrite for a rewrite request; None when ``prompt`` is not one (a judging prompt)."""
    at = prompt.find(MARKER)
    found = _ORIGINAL.search(prompt)
    if at < 0 or found is None:
        return None
    words = prompt[at + len(MARKER):].split(None, 2)
    kind = words[0] if words else ""
    if kind not in KINDS or len(words) < 2 or not words[1].isdigit():
        return None
    target = int(words[1])
    original = found.group(1).replace("&lt;", "<")
    if kind == "concise":
        cut = original[: max(1, target)]
        return cut.rsplit(" ", 1)[0] if " " in cut.strip() else cut
    text, k = original, 0
    while len(text) < target:
        text += " " + PADDING[k % len(PADDING)]
        k += 1
    return text
