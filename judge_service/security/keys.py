"""API keys: created random, shown once, stored as a SHA-256 hash, scoped ``read`` or ``write``.

Why a plain SHA-256 and not bcrypt/argon2: slow hashes protect low-entropy secrets (passwords)
against offline guessing. Our keys are 256 random bits, so guessing is hopeless at any hash
speed, and a fast deterministic hash lets every request find its key with one indexed lookup
instead of a deliberately slow comparison against every stored key.
Requests are matched by the hash (an indexed equality), never by comparing keys, so timing
reveals nothing usable about a stored key.

Keys look like ``jsk_<43 url-safe chars>``: the prefix lets secret scanners and our own log
redaction recognise them.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal


from judge_service.errors import InvalidInput, NotFound
from judge_service.security.models import ApiKeyRow
from judge_service.store.db import Database

Scope = Literal["read", "write"]
SCOPES: tuple[str, ...] = ("read", "write")
KEY_PREFIX = "jsk_"
# Writing last_used_at on every request would turn every read into a write; once a minute is enough.
_TOUCH_EVERY_S = 60.0


@dataclass(frozen=True)
class Principal:
    """Who is calling: a key's id, name and scope (never the key itself)."""

    key_id: str
    name: str
    scope: str

    def can_write(self) -> bool:
        return self.scope == "write"


@dataclass(frozen=True)
class KeyInfo:
    id: str
    name: str
    scope: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class CreatedKey:
    info: KeyInfo
    key: str  # the only time the key exists outside the caller's hands


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _info(row: ApiKeyRow) -> KeyInfo:
    return KeyInfo(row.id, row.name, row.scope, row.prefix, row.created_at, row.last_used_at, row.revoked_at)


class KeyStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._touched: dict[str, float] = {}

    def create(self, name: str, scope: str) -> CreatedKey:
        name = name.strip()
        if not name or len(name) > 100:
            raise InvalidInput("a key needs a name of 1-100 characters (who or what uses it)", field="name")
        if scope not in SCOPES:
            raise InvalidInput(f"scope must be one of {list(SCOPES)}, not '{scope}'", field="scope")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        row = ApiKeyRow(id=f"key_{uuid.uuid4().hex[:16]}", name=name, scope=scope, prefix=key[:10], key_hash=hash_key(key))
        with self.db.session() as s:
            s.add(row)
        return CreatedKey(_info(row), key)

    def list(self) -> list[KeyInfo]:
        with self.db.session() as s:
            return [_info(r) for r in s.query(ApiKeyRow).order_by(ApiKeyRow.created_at)]

    def revoke(self, key_id: str) -> KeyInfo:
        """Revoke by id (``key_...``) or by the shown prefix (``jsk_AbC...``); takes effect on the next request."""
        with self.db.session() as s:
            row = s.get(ApiKeyRow, key_id)
            if row is None:
                matches = s.query(ApiKeyRow).filter(ApiKeyRow.prefix == key_id[:10]).all() if key_id.startswith(KEY_PREFIX) else []
                if len(matches) != 1:
                    raise NotFound(f"no API key with id '{key_id}'; run 'judge keys list' to see ids", field="id")
                row = matches[0]
            if row.revoked_at is None:
                row.revoked_at = datetime.now(timezone.utc)
            return _info(row)

    def verify(self, key: str) -> Principal | None:
        """The key's principal, or None for an unknown or revoked key."""
        if not key.startswith(KEY_PREFIX) or len(key) > 200:
            return None
        digest = hash_key(key)
        with self.db.session() as s:
            row = s.query(ApiKeyRow).filter(ApiKeyRow.key_hash == digest).one_or_none()
            if row is None or row.revoked_at is not None:
                return None
            now = time.monotonic()
            if now - self._touched.get(row.id, -_TOUCH_EVERY_S) >= _TOUCH_EVERY_S:
                self._touched[row.id] = now
                row.last_used_at = datetime.now(timezone.utc)
            return Principal(row.id, row.name, row.scope)
