"""Multi-turn items whose systems answered the earlier turns themselves.

In a multi-turn benchmark (MT-Bench) each system's second answer follows *its own* first answer,
so one shared conversation cannot hold both systems' pasts. Such an item's ``messages`` hold the
shared turns only (an optional leading system message, then the user turns), and each system's
``history`` holds its own answers to every user turn but the last. A system's own conversation is
the shared turns with its history interleaved, ending with the last user turn; its output answers
that turn.

Pure functions over ``(role, content)`` pairs; the edge (``runs/spec.py``) turns a problem into a
422 naming the field, the prompts (``engine/prompts.py``) render the conversations.
"""

from __future__ import annotations

from collections.abc import Sequence

Turn = tuple[str, str]


def history_problem(shared: Sequence[Turn], history: Sequence[str]) -> tuple[int | None, str] | None:
    """Why ``history`` cannot be interleaved with ``shared``, or None. The int is the offending
    message's index in ``shared`` (None: the history's length is wrong)."""
    for i, (role, _) in enumerate(shared):
        if role == "assistant":
            return i, ("with histories, messages hold only the shared turns (a system message and the user turns); "
                       "each system's own assistant turns go in histories")
        if role == "system" and i != 0:
            return i, "a system message must come first"
    users = sum(role == "user" for role, _ in shared)
    if len(history) != users - 1:
        return None, (f"messages have {users} user turn(s), so each history needs {users - 1} earlier answer(s) "
                      f"(one per user turn but the last); this one has {len(history)}")
    if any(not text.strip() for text in history):
        return None, "a history turn is empty"
    return None


def own_conversation(shared: Sequence[Turn], history: Sequence[str]) -> list[Turn]:
    """The conversation one system had: each user turn but the last followed by that system's answer.

    Assumes ``history_problem`` found nothing (checked at the edge)."""
    answers = iter(history)
    out: list[Turn] = []
    users = sum(role == "user" for role, _ in shared)
    seen = 0
    for role, content in shared:
        out.append((role, content))
        if role == "user":
            seen += 1
            if seen < users:
                out.append(("assistant", next(answers)))
    return out
