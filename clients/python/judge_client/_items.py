"""Run items from what users have at hand: a list of dicts, a JSONL/CSV path, or a DataFrame.

A DataFrame is recognised by duck typing (anything with ``.to_dict("records")``), so pandas is
never imported here. Rows may be in the service's shape (``outputs: {system: text}``) or "wide",
one column per system as in the service's CSV upload (``id, prompt, base, tuned``).
"""

from __future__ import annotations

import json

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

# A wide row's columns that are item fields; its other columns (a category, a note) are dropped,
# since the service refuses unknown fields. Rows with ``outputs`` are sent as they are.
_ITEM_KEYS = frozenset({"id", "prompt", "messages", "reference", "metadata", "human_preference"})


@runtime_checkable
class RecordsFrame(Protocol):
    """What a pandas (or polars-via-pandas) DataFrame offers that we use."""

    def to_dict(self, orient: str) -> Any: ...


ItemsSource = Iterable[Mapping[str, Any]] | str | os.PathLike[str] | RecordsFrame


def _missing(value: Any) -> bool:
    # DataFrames hold NaN (or pandas.NA/NaT, whose bool() raises) where a cell is empty.
    if value is None:
        return True
    try:
        return bool(value != value)
    except (TypeError, ValueError):
        return False


def _row_to_item(item: dict[str, Any], baseline: str, candidate: str) -> dict[str, Any]:
    if "outputs" not in item:
        outputs = {s: item.pop(s) for s in (baseline, candidate) if s in item}
        item = {k: v for k, v in item.items() if k in _ITEM_KEYS} | {"outputs": outputs}
    if "id" in item and not isinstance(item["id"], str):
        item["id"] = str(item["id"])
    return item


def as_path(source: object) -> Path | None:
    """A file to upload as is (the service parses JSONL and CSV), or None for in-memory rows."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"no items file at '{path}': pass a JSONL/CSV path, a list of dicts or a DataFrame")
        return path
    return None


def to_rows(source: Iterable[Mapping[str, Any]] | RecordsFrame) -> list[dict[str, Any]]:
    """Plain dict rows with empty (NaN) cells dropped."""
    if hasattr(source, "to_dict") and not isinstance(source, Mapping):
        rows = source.to_dict("records")
    elif isinstance(source, Mapping):
        raise TypeError("expected rows (a list of dicts or a DataFrame), not one dict: wrap it in a list")
    else:
        rows = list(source)
    out = []
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise TypeError(f"row {i} is a {type(row).__name__}; every row must be a dict")
        out.append({k: v for k, v in row.items() if not _missing(v)})
    return out


def to_items(source: Iterable[Mapping[str, Any]] | RecordsFrame, *, baseline: str, candidate: str) -> list[dict[str, Any]]:
    """Run items in the service's shape, from rows in its shape or wide ones."""
    return [_row_to_item(row, baseline, candidate) for row in to_rows(source)]


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """The objects of a JSONL file, one per non-blank line."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]
