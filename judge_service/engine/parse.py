"""Turning a judge's reply into a verdict, from the best evidence the reply carries.

Order of preference: label probabilities the provider scored directly; token logprobs at the
answer's value token; the structured (schema-enforced) object; tolerant extraction from the
reply text. Only the reply is ever parsed, never the prompt: a rubric's own example answer in
the prompt must not be mistaken for the judge's verdict.
An unparseable reply raises ``Unparseable`` — a protocol deviation, never a silent 0 or tie.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from judge_service.judges.base import AnswerField, JudgeReply, TokenLogprob


class Unparseable(Exception):
    pass


@dataclass(frozen=True)
class FieldAnswer:
    label: str
    probs: dict[str, float] | None  # distribution over the field's labels, when known

    def expected(self) -> float:
        """Probability-weighted value (G-Eval style) for numeric labels; the label otherwise."""
        if self.probs:
            return sum(float(lab) * p for lab, p in self.probs.items())
        return float(self.label)


@dataclass(frozen=True)
class ParsedAnswer:
    fields: dict[str, FieldAnswer]
    rationale: str | None
    method: str  # "label_probs" | "logprobs" | "structured" | "text"

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "rationale": self.rationale,
            "fields": {k: {"label": v.label, "probs": v.probs} for k, v in self.fields.items()},
        }


def _norm_label(value: object, field: AnswerField) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip().strip('"').strip()
    for lab in field.labels:
        if text.lower() == lab.lower():
            return lab
    return None


def _normalise(dist: dict[str, float]) -> dict[str, float] | None:
    total = sum(dist.values())
    if total <= 0 or not math.isfinite(total):
        return None
    return {k: v / total for k, v in dist.items()}


def _find_json_object(text: str) -> dict[str, Any] | None:
    """The last balanced {...} in the text that parses as a JSON object."""
    starts = [m.start() for m in re.finditer(r"\{", text)]
    for start in reversed(starts):
        depth = 0
        in_str = False
        esc = False
        for i in range(start, len(text)):
            ch = text[i]
            if in_str:
                if esc:
                    esc = False
                elif ch == "\\":
                    esc = True
                elif ch == '"':
                    in_str = False
            elif ch == '"':
                in_str = True
            elif ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    try:
                        obj = json.loads(text[start : i + 1])
                    except json.JSONDecodeError:
                        break
                    if isinstance(obj, dict):
                        return obj
                    break
    return None


def _loose_value(text: str, field: AnswerField) -> str | None:
    """`score: 7`, `"winner" = "B"`, `Score: 7/10`; the LAST mention wins (judges reason first)."""
    alts = "|".join(re.escape(lab) for lab in sorted(field.labels, key=len, reverse=True))
    rx = re.compile(rf'"?{re.escape(field.name)}"?\s*[:=]\s*"?\[?\s*({alts})\b', re.IGNORECASE)
    matches = rx.findall(text)
    if not matches:
        return None
    return _norm_label(matches[-1], field)


def _values_from_text(text: str, fields: tuple[AnswerField, ...]) -> tuple[dict[str, str], str | None] | None:
    obj = _find_json_object(text)
    if obj is not None:
        vals = {f.name: _norm_label(obj.get(f.name), f) for f in fields}
        if all(v is not None for v in vals.values()):
            rationale = obj.get("rationale")
            return vals, rationale if isinstance(rationale, str) else None  # type: ignore[return-value]
    vals = {f.name: _loose_value(text, f) for f in fields}
    if all(v is not None for v in vals.values()):
        return vals, None  # type: ignore[return-value]
    return None


def _token_distribution(logprobs: tuple[TokenLogprob, ...], text: str, field: AnswerField, label: str) -> dict[str, float] | None:
    """Distribution over labels at the token where the field's value starts, from top logprobs.

    Locates the value by character offset: the reply text is the concatenation of its tokens.
    Only tokens that are whole labels count (true for scores up to 3 digits with OpenAI-style
    tokenisers); if the chosen label is not among them, we cannot trust the weights and say so.
    """
    joined = "".join(t.token for t in logprobs)
    if joined != text:
        text = joined
    m = None
    for m in re.finditer(rf'"{re.escape(field.name)}"\s*:\s*"?', text):
        pass
    if m is None:
        return None
    offset = m.end()
    pos = 0
    for tok in logprobs:
        end = pos + len(tok.token)
        if pos <= offset < end or (pos == offset and tok.token):
            top = dict(tok.top) if tok.top else {tok.token: tok.logprob}
            dist: dict[str, float] = {}
            for t, lp in top.items():
                lab = _norm_label(t, field)
                if lab is not None:
                    dist[lab] = dist.get(lab, 0.0) + math.exp(lp)
            if label not in dist:
                return None
            return _normalise(dist)
        pos = end
    return None


def parse_reply(reply: JudgeReply, fields: tuple[AnswerField, ...]) -> ParsedAnswer:
    if reply.label_probs:
        out = {}
        for f in fields:
            probs = _normalise({lab: float(reply.label_probs.get(f.name, {}).get(lab, 0.0)) for lab in f.labels})
            if probs is None:
                raise Unparseable(f"label probabilities for '{f.name}' are empty")
            chosen = None
            if reply.structured:
                chosen = _norm_label(reply.structured.get(f.name), f)
            out[f.name] = FieldAnswer(chosen or max(probs, key=probs.__getitem__), probs)
        rationale = (reply.structured or {}).get("rationale")
        return ParsedAnswer(out, rationale if isinstance(rationale, str) else None, "label_probs")

    values: dict[str, str] | None = None
    rationale = None
    method = "text"
    if reply.structured:
        vals = {f.name: _norm_label(reply.structured.get(f.name), f) for f in fields}
        if all(v is not None for v in vals.values()):
            values, method = vals, "structured"  # type: ignore[assignment]
            r = reply.structured.get("rationale")
            rationale = r if isinstance(r, str) else None
    if values is None:
        found = _values_from_text(reply.text or "", fields)
        if found is None:
            raise Unparseable(f"no {', '.join(f.name for f in fields)} found in the judge's reply: {(reply.text or '')[:200]!r}")
        values, rationale = found
    answers = {}
    used_logprobs = False
    for f in fields:
        probs = None
        if reply.logprobs:
            probs = _token_distribution(reply.logprobs, reply.text or "", f, values[f.name])
            used_logprobs = used_logprobs or probs is not None
        answers[f.name] = FieldAnswer(values[f.name], probs)
    return ParsedAnswer(answers, rationale, "logprobs" if used_logprobs else method)
