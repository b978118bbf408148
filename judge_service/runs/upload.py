"""Reading run items from JSONL or CSV uploads.

CSV columns: ``id``, ``prompt``, optional ``reference``, and one column per system named after
it (the baseline's and the candidate's names). JSONL: one item object per line, as in the JSON body.
"""

from __future__ import annotations

from typing import Any

import csv
import io
import json

from pydantic import ValidationError

from judge_service.errors import InvalidInput
from judge_service.runs.spec import RunItem, RunSpec
from judge_service.security import untrusted


def _item(obj: dict[str, Any], line: int) -> RunItem:
    try:
        return RunItem.model_validate(obj)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise InvalidInput(f"line {line}: {loc}: {err['msg']}", field=f"file.line{line}.{loc}") from None


def parse_items(data: bytes, filename: str, spec: RunSpec) -> list[RunItem]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("the uploaded file is not UTF-8 text", field="file") from None
    if filename.lower().endswith(".csv"):
        reader = csv.DictReader(io.StringIO(text))
        rows = untrusted.csv_rows(reader)  # duplicate columns, extra fields, oversized fields: refused
        fields = set(reader.fieldnames or [])
        needed = {"id", "prompt", spec.baseline, spec.candidate}
        if not needed <= fields:
            raise InvalidInput(f"CSV needs columns {sorted(needed)}; it has {sorted(fields)}", field="file")
        items = []
        for n, row in rows:
            items.append(_item({
                "id": row["id"], "prompt": row["prompt"], "reference": row.get("reference") or None,
                "outputs": {s: row[s] for s in (spec.baseline, spec.candidate)},
            }, n))
        return items
    items = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = untrusted.loads(line, field=f"file.line{n}")
        except json.JSONDecodeError as e:
            raise InvalidInput(f"line {n} is not valid JSON: {e.msg}", field=f"file.line{n}") from None
        if not isinstance(obj, dict):
            raise InvalidInput(f"line {n} must be a JSON object", field=f"file.line{n}")
        items.append(_item(obj, n))
    return items
