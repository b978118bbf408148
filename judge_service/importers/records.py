"""Plain records (JSONL, CSV, a Hugging Face ``datasets`` split) → run items, by naming the columns.

The files are read where they are (the client or CLI reads parquet/arrow/JSONL/CSV); this module
only maps each record's columns: an id (or the row number), the prompt (a string, or a chat list
of ``{role, content}``), both systems' outputs and an optional reference. A record missing a
named column is refused naming the record and the column, never skipped: a silently shorter run
is a different eval set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from judge_service.errors import InvalidInput


@dataclass(frozen=True)
class Columns:
    prompt: str
    baseline: str
    candidate: str
    id: str | None = None
    reference: str | None = None


def _text(row: Mapping[str, Any], key: str, where: str) -> str:
    if key not in row or row[key] is None:
        raise InvalidInput(f"{where} has no '{key}' (columns: {sorted(row)[:20]})", field=f"{where}.{key}")
    value = row[key]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise InvalidInput(f"{where}.{key} must be text, not {type(value).__name__}", field=f"{where}.{key}")
    return value


def _conversation(value: Any, where: str) -> dict[str, Any]:
    if isinstance(value, str):
        return {"prompt": value}
    if isinstance(value, list) and value and all(isinstance(m, Mapping) for m in value):
        messages = [{"role": m.get("role"), "content": m.get("content")} for m in value]
        if messages[-1]["role"] == "assistant":  # a chat column that holds the answer too: judge the last user turn
            messages = messages[:-1]
        return {"messages": messages}
    raise InvalidInput(f"{where} must be a string or a list of {{role, content}} messages", field=where)


def run_items(records: Sequence[Mapping[str, Any]], columns: Columns, *, baseline_name: str,
              candidate_name: str) -> list[dict[str, Any]]:
    if baseline_name == candidate_name:
        raise InvalidInput("baseline and candidate need different names", field="candidate_name")
    if not records:
        raise InvalidInput("no records to import", field="records")
    items: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, row in enumerate(records):
        where = f"records.{i}"
        if not isinstance(row, Mapping):
            raise InvalidInput(f"{where} is not an object", field=where)
        item_id = _text(row, columns.id, where) if columns.id else str(i)
        if item_id in seen:
            raise InvalidInput(f"id '{item_id}' appears twice; name a unique id column", field=f"{where}.{columns.id}")
        seen.add(item_id)
        if columns.prompt not in row or row[columns.prompt] is None:
            raise InvalidInput(f"{where} has no '{columns.prompt}' (columns: {sorted(row)[:20]})",
                               field=f"{where}.{columns.prompt}")
        item: dict[str, Any] = {"id": item_id, **_conversation(row[columns.prompt], f"{where}.{columns.prompt}"),
                                "outputs": {baseline_name: _text(row, columns.baseline, where),
                                            candidate_name: _text(row, columns.candidate, where)}}
        if columns.reference:
            item["reference"] = _text(row, columns.reference, where)
        items.append(item)
    return items
