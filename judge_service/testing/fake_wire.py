"""The fake server's wire formats: OpenAI and Anthropic error bodies, tool and schema reading, logprob tokens."""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

from judge_service.judges.base import AnswerField

def _error_body(flavour: str, kind: str, message: str) -> dict[str, Any]:
    if flavour == "anthropic":
        return {"type": "error", "error": {"type": kind, "message": message}}
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def _mask(key: str) -> str:
    # What OpenAI does: the first few and last four characters, the middle starred.
    if len(key) <= 12:
        return key[:2] + "*" * max(0, len(key) - 2)
    return key[:8] + "*" * (len(key) - 12) + key[-4:]


def _content_text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _forced_tool(body: dict[str, Any]) -> dict[str, Any] | None:
    tools: list[dict[str, Any]] = body.get("tools") or []
    choice = body.get("tool_choice") or {}
    if not tools:
        return None
    if choice.get("type") == "tool":
        return next((t for t in tools if t.get("name") == choice.get("name")), None)
    if choice.get("type") == "any":
        return tools[0]
    return None


def _fields_from_schema(schema: dict[str, Any] | None) -> tuple[AnswerField, ...]:
    props = (schema or {}).get("properties") or {}
    out = []
    for name, prop in props.items():
        if isinstance(prop, dict) and isinstance(prop.get("enum"), list):
            out.append(AnswerField(name, tuple(str(v) for v in prop["enum"])))
    return tuple(out)


def _tokens(obj: dict[str, Any], dist: dict[str, dict[str, float]]) -> list[tuple[str, float, dict[str, float]]]:
    """The reply's JSON text as coarse tokens; each answer value is one token carrying the policy's
    distribution over labels (what a real model's top_logprobs at that position look like)."""
    out: list[tuple[str, float, dict[str, float]]] = [("{", 0.0, {})]
    for i, (key, value) in enumerate(obj.items()):
        out.append(((", " if i else "") + f'"{key}": ', 0.0, {}))
        if key in dist:
            quoted = not isinstance(value, int)
            top = {lab: math.log(max(p, 1e-12)) for lab, p in dist[key].items()}
            if quoted:
                out.append(('"', 0.0, {}))
            out.append((str(value), top[str(value)], top))
            if quoted:
                out.append(('"', 0.0, {}))
        else:
            out.append((json.dumps(value), 0.0, {}))
    out.append(("}", 0.0, {}))
    return out


def _token_logprob(token: str, logprob: float, top: dict[str, float], n: int) -> dict[str, Any]:
    alts = sorted((top or {token: logprob}).items(), key=lambda kv: -kv[1])[:n]
    return {"token": token, "logprob": logprob, "bytes": list(token.encode()),
            "top_logprobs": [{"token": t, "logprob": lp, "bytes": list(t.encode())} for t, lp in alts]}


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)


