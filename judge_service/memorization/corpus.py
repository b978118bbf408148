"""A training set as documents: JSONL, CSV or chat-format records, with the text fields chosen.

Default fields, in order: the assistant turns of ``messages`` (what fine-tuning teaches the model
to say), then ``output``, ``completion``, ``response``, ``text``; the first a record has is used.
A field given explicitly must be on every record. ``messages.user`` / ``messages.system`` /
``messages`` (every role) select other turns of a chat record.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any

from judge_service.errors import InvalidInput
from judge_service.security import untrusted

DEFAULT_FIELDS = ("messages.assistant", "output", "completion", "response", "text")


@dataclass(frozen=True)
class Document:
    doc_id: str
    text: str


def _message_text(value: Any, role: str | None, where: str) -> str:
    if not isinstance(value, list):
        raise InvalidInput(f"{where}: 'messages' must be a list of {{role, content}} objects", field=f"{where}.messages")
    parts = []
    for turn in value:
        if not isinstance(turn, Mapping) or not isinstance(turn.get("content"), str):
            raise InvalidInput(f"{where}: every message needs a string 'content'", field=f"{where}.messages")
        if role is None or turn.get("role") == role:
            parts.append(turn["content"])
    return "\n".join(parts)


def _field_text(record: Mapping[str, Any], name: str, where: str) -> str | None:
    """The text of one field, or None when the record lacks it."""
    if name == "messages" or name.startswith("messages."):
        if "messages" not in record:
            return None
        return _message_text(record["messages"], name.split(".", 1)[1] if "." in name else None, where)
    if name not in record or record[name] is None:
        return None
    value = record[name]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "\n".join(value)  # e.g. MT-Bench "turns"
    if not isinstance(value, (str, int, float)):
        raise InvalidInput(f"{where}: field '{name}' must be text (or a list of texts)", field=f"{where}.{name}")
    return str(value)


def record_text(record: Mapping[str, Any], fields: Sequence[str] | None, where: str) -> str:
    """The text a record contributes: the chosen fields joined by newlines."""
    if fields:
        parts = []
        for name in fields:
            text = _field_text(record, name, where)
            if text is None:
                raise InvalidInput(f"{where} has no field '{name}' (it has {sorted(record)}); choose text_fields "
                                   "that every record has", field="text_fields")
            parts.append(text)
        return "\n".join(parts)
    for name in DEFAULT_FIELDS:
        text = _field_text(record, name, where)
        if text is not None:
            return text
    raise InvalidInput(f"{where} has none of the default text fields {list(DEFAULT_FIELDS)} (it has {sorted(record)}); "
                       "name the fields with text_fields", field="text_fields")


def documents(records: Iterable[tuple[str, Mapping[str, Any]]], fields: Sequence[str] | None,
              id_field: str | None) -> Iterator[Document]:
    """Documents from ``(where, record)`` pairs; ``where`` names the record in error messages."""
    for n, (where, record) in enumerate(records):
        if not isinstance(record, Mapping):
            raise InvalidInput(f"{where} must be a JSON object", field=where)
        doc_id = str(record[id_field]) if id_field and record.get(id_field) is not None else str(n)
        yield Document(doc_id, record_text(record, fields, where))


def jsonl_records(stream: IO[bytes]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Records of a JSONL byte stream, read line by line (memory bounded by the longest line)."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    for line_no, raw in enumerate(stream, 1):
        try:
            line = decoder.decode(raw)
        except UnicodeDecodeError:
            raise InvalidInput(f"line {line_no} of the file is not UTF-8 text", field="file") from None
        if not line.strip():
            continue
        try:
            obj = untrusted.loads(line, field=f"file.line{line_no}")
        except json.JSONDecodeError as e:
            raise InvalidInput(f"line {line_no} is not valid JSON: {e.msg}", field=f"file.line{line_no}") from None
        yield f"line {line_no}", obj


def csv_records(stream: IO[bytes]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    try:
        for row_no, row in untrusted.csv_rows(csv.DictReader(text)):
            yield f"row {row_no}", row
    except UnicodeDecodeError:
        raise InvalidInput("the uploaded CSV file is not UTF-8 text", field="file") from None
    finally:
        text.detach()


def file_records(stream: IO[bytes], filename: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """JSONL unless the name ends in .csv."""
    return csv_records(stream) if filename.lower().endswith(".csv") else jsonl_records(stream)


def list_records(records: Sequence[Any], name: str = "records") -> Iterator[tuple[str, Mapping[str, Any]]]:
    for i, record in enumerate(records):
        yield f"{name}[{i}]", record
