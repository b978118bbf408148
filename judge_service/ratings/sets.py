"""Human rating sets: parsing uploads (JSON, JSONL, CSV; long or wide) into one canonical form.

Canonical form: items ``[{id, prompt | messages, response | response_a + response_b, reference?,
ratings: {rater: value}}]``. A set is identified by the hash of that canonical content, so
uploading the same ratings twice gives the same set, and any change gives a new one.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from typing import Any, Literal, NotRequired, Required, TypedDict, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from judge_service.errors import InvalidInput
from judge_service.security import untrusted
from judge_service.schemas import ConversationInput

PAIRWISE_VOTES = ("A", "B", "tie")
# One uploaded row before validation (RatedItem checks it): JSON values, or strings from a CSV.
RawRow = dict[str, Any]
_ITEM_KEYS = {"id", "prompt", "messages", "response", "response_a", "response_b", "history", "history_a", "history_b",
              "reference", "rater", "rating",
              "ratings", "group"}


class RatedItem(ConversationInput):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    response: str | None = None
    response_a: str | None = None
    response_b: str | None = None
    # Multi-turn items whose systems answered the earlier turns themselves (engine/histories.py):
    # the rated response's (or A's and B's) own answers to every user turn but the last.
    history: list[str] | None = None
    history_a: list[str] | None = None
    history_b: list[str] | None = None
    reference: str | None = None
    group: str | None = None
    ratings: dict[str, float | str | None] = Field(min_length=1)


class RatingSetCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    kind: Literal["ordinal", "interval", "pairwise"] = "ordinal"
    rubric: str | None = Field(default=None, description="the rubric these ratings follow (its scale is used)")
    items: list[RatedItem] = Field(min_length=1)


class MessageJson(TypedDict):
    role: Literal["system", "user", "assistant"]
    content: str


class CanonicalItem(TypedDict, total=False):
    """One rated item in canonical form: optional keys are absent rather than null."""

    id: Required[str]
    prompt: str
    messages: list[MessageJson]
    response: str
    response_a: str
    response_b: str
    history: list[str]
    history_a: list[str]
    history_b: list[str]
    reference: str
    group: str
    ratings: Required[dict[str, float | str]]  # numbers, or A/B/tie votes for a pairwise set


class CanonicalSet(TypedDict):
    """A rating set's stored content; its hash is the set's identity."""

    name: str
    kind: Literal["ordinal", "interval", "pairwise"]
    rubric: NotRequired[str]
    items: list[CanonicalItem]


def validate_set(body: RatingSetCreate) -> None:
    seen: set[str] = set()
    for i, item in enumerate(body.items):
        where = f"items.{i}"
        if item.id in seen:
            raise InvalidInput(f"duplicate item id '{item.id}'", field=f"{where}.id")
        seen.add(item.id)
        item.check_conversation(where, f"item '{item.id}': ")
        if (item.history_a is None) != (item.history_b is None):
            raise InvalidInput(f"item '{item.id}': give both history_a and history_b or neither",
                               field=f"{where}.{'history_b' if item.history_b is None else 'history_a'}")
        for name in ("history", "history_a", "history_b"):
            try:
                item.check_history(getattr(item, name), name)
            except InvalidInput as e:
                raise InvalidInput(f"item '{item.id}': {e.message}", field=f"{where}.{e.field}") from None
        if body.kind == "pairwise":
            if not item.response_a or not item.response_b:
                raise InvalidInput(f"item '{item.id}': pairwise ratings need response_a and response_b", field=f"{where}.response_a")
            bad = [v for v in item.ratings.values() if v is not None and str(v) not in PAIRWISE_VOTES]
            if bad:
                raise InvalidInput(f"item '{item.id}': pairwise votes must be one of {list(PAIRWISE_VOTES)}, got {bad}",
                                   field=f"{where}.ratings")
        else:
            if not item.response:
                raise InvalidInput(f"item '{item.id}': needs 'response'", field=f"{where}.response")
            for rater, v in item.ratings.items():
                if v is not None and not isinstance(v, (int, float)):
                    try:
                        float(v)
                    except ValueError:
                        raise InvalidInput(f"item '{item.id}': rating of '{rater}' is not a number: {v!r}",
                                           field=f"{where}.ratings.{rater}") from None
        if all(v is None for v in item.ratings.values()):
            raise InvalidInput(f"item '{item.id}' has no rating", field=f"{where}.ratings")


def canonical(body: RatingSetCreate) -> CanonicalSet:
    # The model's own dump: RatingSetCreate's fields, with None left out.
    data = cast(CanonicalSet, body.model_dump(mode="json", exclude_none=True))
    for item in data["items"]:
        item["ratings"] = {k: (v if body.kind == "pairwise" else float(v)) for k, v in item["ratings"].items() if v is not None}
    return data


def set_hash(data: CanonicalSet) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _rows_to_items(rows: list[RawRow]) -> list[RawRow]:
    """Long rows (one per item and rater: rater, rating) or wide rows (one column per rater)."""
    items: dict[str, RawRow] = {}
    for n, row in enumerate(rows, start=1):
        if "id" not in row or row["id"] in (None, ""):
            raise InvalidInput(f"row {n} has no 'id'", field=f"file.row{n}.id")
        iid = str(row["id"])
        item = items.setdefault(iid, {k: row[k] for k in ("id", "prompt", "messages", "response", "response_a",
                                                              "response_b", "history", "history_a", "history_b",
                                                              "reference", "group") if row.get(k) not in (None, "")})
        item["id"] = iid
        ratings = item.setdefault("ratings", {})
        if "ratings" in row and isinstance(row["ratings"], dict):
            ratings.update(row["ratings"])
        elif "rater" in row:
            ratings[str(row["rater"])] = row.get("rating")
        else:
            for k, v in row.items():
                if k not in _ITEM_KEYS and v not in (None, ""):
                    ratings[k] = v
    return list(items.values())


def parse_upload(data: bytes, filename: str, *, name: str, kind: str, rubric: str | None) -> RatingSetCreate:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("the uploaded file is not UTF-8 text", field="file") from None
    lower = filename.lower()
    if lower.endswith(".csv"):
        rows: list[RawRow] = [row for _, row in untrusted.csv_rows(csv.DictReader(io.StringIO(text)))]
    elif lower.endswith(".json"):
        try:
            loaded = untrusted.loads(text, field="file")
        except json.JSONDecodeError as e:
            raise InvalidInput(f"file is not valid JSON: {e.msg}", field="file") from None
        rows = loaded.get("items", loaded) if isinstance(loaded, dict) else loaded
        if not isinstance(rows, list):
            raise InvalidInput("a JSON file must hold a list of rows or {'items': [...]}", field="file")
    else:
        rows = []
        for n, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    rows.append(untrusted.loads(line, field=f"file.line{n}"))
                except json.JSONDecodeError as e:
                    raise InvalidInput(f"line {n} is not valid JSON: {e.msg}", field=f"file.line{n}") from None
    if not rows:
        raise InvalidInput("the file has no rows", field="file")
    for n, r in enumerate(rows, start=1):
        if not isinstance(r, dict):
            raise InvalidInput(f"row {n} must be an object with 'id' and ratings", field=f"file.row{n}")
    if kind != "pairwise":
        for r in rows:
            if "rating" in r and isinstance(r["rating"], str) and r["rating"].strip():
                r["rating"] = _num(r["rating"])
    try:
        return RatingSetCreate(name=name, kind=kind, rubric=rubric, items=_rows_to_items(rows))
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise InvalidInput(f"{loc}: {err['msg']}", field=loc) from None


def _num(v: str) -> float | str:
    try:
        return float(v)
    except ValueError:
        return v
