"""Limits on untrusted JSON and CSV, wherever it arrives: request bodies and every uploaded file.

- JSON nested deeper than :data:`MAX_JSON_DEPTH` is refused: nothing the service reads nests past a
  handful of levels, while 100,000 levels raised ``RecursionError`` in the parser and 400 levels of
  run-item ``metadata`` failed later, at serialisation (both were 500s).
- A lone surrogate (``"\\ud800"`` with no partner) is refused: it is valid JSON but not text, and
  failed as a 500 when the prompt was encoded for the provider or the database.
- CSV: a duplicated column name (``csv.DictReader`` let the last one win) and a row with more
  fields than the header (silently dropped) are refused naming the column or the line; a field
  over csv's own limit (131,072 characters) is a 413 naming the line, not a ``_csv.Error``.

Each refusal is an :class:`InvalidInput` whose ``field`` is the JSON path (``items.0.metadata``) or
the file and line (``file.line3``). The request-body check is a middleware (``install``): it looks
only at bodies that could hold a problem (a ``\\ud`` escape, or enough brackets to nest that deep),
so an ordinary request pays a couple of byte scans.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from judge_service.errors import InvalidInput, PayloadTooLarge

MAX_JSON_DEPTH = 32
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_ONE_KIND = bytes.maketrans(b"{}", b"[]")  # which kind closes which is the parser's concern, not the depth's
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")  # \ud800-\udfff written as a JSON escape


def _path(parts: Iterable[object]) -> str:
    return ".".join(str(p) for p in parts)


def json_problem(value: Any, *, root: tuple[object, ...] = ()) -> tuple[str, str] | None:
    """The first place in a parsed JSON value that breaks a limit: ``(path, what is wrong)``, or None."""
    stack: list[tuple[Any, tuple[object, ...]]] = [(value, root)]
    while stack:
        v, path = stack.pop()
        if isinstance(v, str):
            if _LONE_SURROGATE.search(v) and not _encodes(v):
                return _path(path) or "body", "contains a lone UTF-16 surrogate (e.g. \\ud800), which is not text; send valid Unicode"
            continue
        if isinstance(v, (dict, list)):
            if len(path) - len(root) >= MAX_JSON_DEPTH:
                # named by its first few steps (items.0.metadata.base), not a path 32 keys long
                return _path(path[:len(root) + 4]) or "body", f"is nested more than {MAX_JSON_DEPTH} levels deep"
            items = v.items() if isinstance(v, dict) else enumerate(v)
            for k, item in items:
                if isinstance(k, str) and _LONE_SURROGATE.search(k) and not _encodes(k):
                    return _path((*path, "<key>")), "has a key with a lone UTF-16 surrogate, which is not text"
                stack.append((item, (*path, k)))
    return None


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_json(value: Any, *, field: str) -> Any:
    """``value`` unchanged, or InvalidInput naming ``field`` plus the path inside it."""
    problem = json_problem(value)
    if problem is not None:
        path, what = problem
        inner = "" if path == "body" else f".{path}"
        raise InvalidInput(f"{field}{inner} {what}", field=f"{field}{inner}")
    return value


def loads(text: str | bytes, *, field: str) -> Any:
    """``json.loads`` under the limits. ``json.JSONDecodeError`` still propagates (callers sniff formats with it)."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise InvalidInput(f"{field} is nested more than {MAX_JSON_DEPTH} levels deep", field=field) from None
    return check_json(value, field=field)


def nested_deeper_than(body: bytes, depth: int) -> bool:
    """Whether raw JSON's brackets nest deeper than ``depth``, without parsing it (C-speed bytes work:
    ~10 ms for a 5 MB body, where a regex to drop the strings first took ~0.5 s). Brackets inside
    strings count too. Openers there make a body look deeper, and a suspect body is parsed to be sure
    (``body_problem``); closers placed on purpose could hide real nesting, which leaves such a crafted
    body to the parser's and the models' own limits. Each pass deletes the innermost pairs, one level."""
    brackets = body.translate(_ONE_KIND, _NOT_BRACKETS)
    for _ in range(depth):
        if not brackets:
            return False
        shorter = brackets.replace(b"[]", b"")
        if len(shorter) == len(brackets):
            return True  # unbalanced (brackets in strings, or not JSON): let the parse decide
        brackets = shorter
    return bool(brackets)


def body_problem(body: bytes) -> InvalidInput | None:
    """The request body's refusal, or None. Cheap for ordinary bodies: parsed again only when suspect."""
    if _SURROGATE_ESCAPE.search(body) is None and not nested_deeper_than(body, MAX_JSON_DEPTH):
        return None
    try:
        value = json.loads(body)
    except RecursionError:
        return InvalidInput(f"the request body is nested more than {MAX_JSON_DEPTH} levels deep", field="body")
    except ValueError:
        return None  # not JSON: the route's own parsing says so
    problem = json_problem(value)
    if problem is None:
        return None
    path, what = problem
    return InvalidInput(f"{path} {what}" if path != "body" else f"the request body {what}", field=path)


# -- CSV -------------------------------------------------------------------------------------

def csv_rows(reader: csv.DictReader[str], *, field: str = "file", first_line: int = 2) -> Iterator[tuple[int, dict[str, str]]]:
    """A DictReader's rows with their line numbers, refusing duplicate columns, extra fields and oversized fields."""
    try:
        names = list(reader.fieldnames or [])
    except csv.Error as e:
        raise _csv_error(e, 1, field) from None
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InvalidInput(f"the CSV header names column '{name}' twice; give every column a distinct name",
                               field=f"{field}.column.{name}")
        seen.add(name)
    line = first_line - 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise _csv_error(e, line + 1, field) from None
        line = reader.line_num
        if None in row:
            extra = row[None]  # DictReader's restkey for fields past the header
            raise InvalidInput(f"line {line} has {len(names) + len(extra)} fields but the header names {len(names)} "
                               f"columns; quote fields that contain commas", field=f"{field}.line{line}")
        yield line, row


def _csv_error(e: csv.Error, line: int, field: str) -> InvalidInput:
    if "field larger than field limit" in str(e):
        return PayloadTooLarge(f"line {line} has a field over {csv.field_size_limit():,} characters, csv's limit; "
                               f"upload long texts as JSONL instead", field=f"{field}.line{line}")
    return InvalidInput(f"line {line} is not valid CSV: {e}", field=f"{field}.line{line}")


# -- request bodies --------------------------------------------------------------------------

class JsonLimitsMiddleware:
    """Refuses a JSON request body past the limits above before any route parses it (422 naming the path)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH") or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message], receive), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        problem = body_problem(body)
        if problem is not None:
            from judge_service.security.auth import error_response

            await error_response(problem)(scope, receive, send)
            return
        await self.app(scope, _replay([{"type": "http.request", "body": body, "more_body": False}], receive), send)


def _is_json(scope: Scope) -> bool:
    for k, v in scope.get("headers") or []:
        if k == b"content-type":
            return b"json" in v.lower()
    return False


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


def install(app: FastAPI) -> None:
    app.add_middleware(JsonLimitsMiddleware)
