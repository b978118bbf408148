"""Database.write_grouped: writes queued together commit together, each caller resumes after its own
row is committed, a failing write fails only its caller, and insert-or-ignore says which row won."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from judge_service.store.db import Database
from judge_service.store.models import CallCacheRow, JudgmentRow

JUDGMENTS = JudgmentRow.metadata.tables[JudgmentRow.__tablename__]
CACHE = CallCacheRow.metadata.tables[CallCacheRow.__tablename__]


def judgment(i: int) -> dict[str, object]:
    return {"id": f"cmp_{i}", "kind": "comparison", "rubric_name": "r", "rubric_version": 1, "rubric_hash": "h",
            "request": {"i": i}, "result": {"i": i}}


def cache_row(key: str, text: str) -> dict[str, object]:
    return {"cache_key": key, "judge": "j", "model": "m", "reply": {"text": text}}


def test_grouped_writes_commit_and_a_bad_one_fails_alone(db_url):
    db = Database(db_url)

    def count(s: Session) -> int:
        return int(s.scalar(select(func.count()).select_from(JudgmentRow)) or 0)

    async def main() -> list[object]:
        # 50 rows at once, one of them a duplicate id of another (a primary-key violation).
        writes = [db.insert_grouped(JUDGMENTS, judgment(i)) for i in range(50)]
        writes.append(db.insert_grouped(JUDGMENTS, judgment(7)))
        writes.append(db.write_grouped(count))
        return await asyncio.gather(*writes, return_exceptions=True)

    results = asyncio.run(main())
    db.close()
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == 1 and results.index(errors[0]) in (7, 50)  # one of the two rows with id cmp_7
    db = Database(db_url)
    with db.session() as s:
        stored = sorted(s.scalars(select(JudgmentRow.id)))
    assert stored == sorted(f"cmp_{i}" for i in range(50))  # nothing lost, nothing doubled
    assert results[-1] in (49, 50)  # the callable ran after the rows queued before it
    db.close()


def test_insert_or_ignore_reports_the_row_that_was_stored(db_url):
    db = Database(db_url)

    async def main() -> list[bool]:
        first = await db.insert_or_ignore_grouped(CACHE, cache_row("k1", "ours"), "cache_key")
        # In one group: a key already stored, a new key, and the same new key again.
        rest = await asyncio.gather(db.insert_or_ignore_grouped(CACHE, cache_row("k1", "theirs"), "cache_key"),
                                    db.insert_or_ignore_grouped(CACHE, cache_row("k2", "first"), "cache_key"),
                                    db.insert_or_ignore_grouped(CACHE, cache_row("k2", "second"), "cache_key"))
        return [first, *rest]

    assert asyncio.run(main()) == [True, False, True, False]
    with db.session() as s:
        replies = {r.cache_key: r.reply["text"] for r in s.scalars(select(CallCacheRow))}
    assert replies == {"k1": "ours", "k2": "first"}
    db.close()


@pytest.mark.parametrize("n", [1, 200])
def test_a_caller_resumes_only_after_its_row_is_committed(tmp_path, n):
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    other = Database(f"sqlite:///{tmp_path / 'x.db'}")  # another connection: sees only what is committed

    async def write_and_look(i: int) -> bool:
        await db.insert_grouped(JUDGMENTS, judgment(i))
        with other.session() as s:
            return s.get(JudgmentRow, f"cmp_{i}") is not None

    async def main() -> list[bool]:
        return await asyncio.gather(*(write_and_look(i) for i in range(n)))

    assert all(asyncio.run(main()))
    db.close()
    other.close()


def test_json_columns_round_trip_what_json_dumps_would_store(db_url):
    """The JSON columns' faster encoder keeps every value json.dumps could store: a lone surrogate in
    a reply (which it cannot encode in UTF-8) falls back to json.dumps's escape, NaN stays NaN."""
    db = Database(db_url)
    request = {"prompt": "caf\u00e9 \U0001f600", "big": 10**30, "tiny": 1e-300, "sum": 0.1 + 0.2, "nested": [[1, "a"], {"k": None}]}
    result = {"reply": "half a pair \ud800 here", "score": float("nan") if db_url.startswith("sqlite") else 1.5}
    row = {**judgment(1), "request": request, "result": result}
    asyncio.run(db.insert_grouped(JUDGMENTS, row))
    with db.session() as s:
        stored = s.get(JudgmentRow, "cmp_1")
        assert stored is not None
        assert stored.request == request
        assert stored.result["reply"] == "half a pair \ud800 here"
        score = stored.result["score"]
        assert (score != score) if db_url.startswith("sqlite") else score == 1.5  # NaN survives on SQLite
    db.close()
