"""Where indexes and reports live: two tables, and index files under ``<data_dir>/overlap-indexes``.

An index is identified by the sha256 of its source bytes and build options, so uploading the same
training set with the same options reuses the stored index instead of building it again.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
import uuid
from collections import OrderedDict
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from judge_service.errors import NotFound
from judge_service.memorization.index import OverlapIndex
from judge_service.store.db import Database
from judge_service.store.models import Base, utcnow


class OverlapIndexRow(Base):
    __tablename__ = "overlap_indexes"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MemorizationReportRow(Base):
    __tablename__ = "memorization_reports"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "regurgitation" | "contamination"
    index_id: Mapped[str] = mapped_column(String(40), index=True)
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def content_hash(source_sha256: str, options: dict[str, Any]) -> str:
    return hashlib.sha256((source_sha256 + json.dumps(options, sort_keys=True)).encode()).hexdigest()


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


class IndexStore:
    """Index rows, their files, and the few most recently used indexes kept loaded."""

    def __init__(self, db: Database, root: Path, keep_loaded: int = 2) -> None:
        self.db, self.root, self.keep_loaded = db, root, keep_loaded
        self._loaded: OrderedDict[str, OverlapIndex] = OrderedDict()
        self._lock = threading.Lock()

    def find(self, digest: str) -> dict[str, Any] | None:
        with self.db.session() as s:
            row = s.query(OverlapIndexRow).filter_by(content_hash=digest).one_or_none()
            return None if row is None else self._out(row)

    def add(self, digest: str, name: str | None, index: OverlapIndex, summary: dict[str, Any]) -> dict[str, Any]:
        index_id = new_id("oix")
        directory = self.root / index_id
        try:
            bytes_on_disk = index.save(directory)
            with self.db.session() as s:
                row = OverlapIndexRow(id=index_id, content_hash=digest, name=name,
                                      summary=summary | {"bytes_on_disk": bytes_on_disk, "memory_bytes": index.nbytes()})
                s.add(row)
                s.flush()
                out = self._out(row)
        except BaseException:
            shutil.rmtree(directory, ignore_errors=True)
            raise
        with self._lock:
            self._remember(index_id, index)
        return out

    def get(self, index_id: str) -> dict[str, Any]:
        with self.db.session() as s:
            row = s.get(OverlapIndexRow, index_id)
            if row is None:
                raise NotFound(f"no overlap index with id '{index_id}'; create one with POST /v1/overlap-indexes",
                               field="index_id")
            return self._out(row)

    def load(self, index_id: str) -> OverlapIndex:
        self.get(index_id)
        with self._lock:
            if index_id in self._loaded:
                self._loaded.move_to_end(index_id)
                return self._loaded[index_id]
            index = OverlapIndex.load(self.root / index_id)
            self._remember(index_id, index)
            return index

    def _remember(self, index_id: str, index: OverlapIndex) -> None:
        self._loaded[index_id] = index
        while len(self._loaded) > self.keep_loaded:
            self._loaded.popitem(last=False)

    @staticmethod
    def _out(row: OverlapIndexRow) -> dict[str, Any]:
        return {"id": row.id, "content_hash": row.content_hash, "name": row.name, "created_at": row.created_at.isoformat(),
                **row.summary}

    def save_report(self, kind: str, index_id: str, result: dict[str, Any]) -> dict[str, Any]:
        report_id = new_id("reg" if kind == "regurgitation" else "con")
        with self.db.session() as s:
            row = MemorizationReportRow(id=report_id, kind=kind, index_id=index_id, result=result)
            s.add(row)
            s.flush()
            return result | {"id": report_id, "created_at": row.created_at.isoformat()}

    def report(self, kind: str, report_id: str) -> dict[str, Any]:
        with self.db.session() as s:
            row = s.get(MemorizationReportRow, report_id)
            if row is None or row.kind != kind:
                raise NotFound(f"no {kind} report with id '{report_id}'", field="id")
            return row.result | {"id": row.id, "created_at": row.created_at.isoformat()}
