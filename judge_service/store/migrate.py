"""Bring a database to the current schema with Alembic, whatever made it.

Three cases, told apart by what the database holds:

- **empty**: ``create_all`` and stamp the head revision. That is Alembic's own recipe for a new
  database, and it is fast (the test suite makes hundreds); ``tests/test_migrations.py`` checks
  that upgrading from nothing gives exactly the same schema, so the two paths cannot drift.
- **made by a release without migrations** (tables, no ``alembic_version``): stamped at 0001, the
  schema of that release, then upgraded. Later revisions create a table only where it is missing,
  because development builds added tables with ``create_all``.
- **versioned**: upgraded to head (nothing to do when it is there).

Several processes may start on one database at once (``uvicorn --workers``, replicas). On
PostgreSQL a transaction-scoped advisory lock makes them take turns; on SQLite (always one host)
an exclusive lock on a file beside the database does.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text
from sqlalchemy.engine import Engine

from judge_service.store.schema import metadata

SCRIPTS = Path(__file__).parent / "migrations"
PREMIGRATION_REVISION = "0001"  # the schema the 2026-11-28 release created with create_all
_PG_LOCK = 734101


def _config(conn: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPTS))
    cfg.attributes["connection"] = conn
    return cfg


def head() -> str:
    revision = ScriptDirectory(str(SCRIPTS)).get_current_head()
    assert revision is not None, f"no migrations under {SCRIPTS}"
    return revision


def current(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def _migrate(conn: Connection) -> None:
    revision = current(conn)
    if revision == head():
        return
    if revision is None:
        tables = set(inspect(conn).get_table_names())
        if not tables:
            metadata().create_all(conn)
            command.stamp(_config(conn), "head")
            return
        command.stamp(_config(conn), PREMIGRATION_REVISION)
    command.upgrade(_config(conn), "head")


@contextmanager
def _one_at_a_time(engine: Engine) -> Iterator[None]:
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate-lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def migrate(engine: Engine) -> None:
    """Upgrade ``engine``'s database to the head revision (see the module's docstring)."""
    with _one_at_a_time(engine), engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"SELECT pg_advisory_xact_lock({_PG_LOCK})"))
        _migrate(conn)


def new_revision(message: str) -> None:
    """Write the next revision file for what the models gained since head (a developer's tool).

    ``python -c 'from judge_service.store.migrate import new_revision; new_revision("why")'``:
    autogenerate against a scratch SQLite database at head; read and adjust the file it writes.
    """
    import tempfile

    from sqlalchemy import create_engine

    with tempfile.TemporaryDirectory() as scratch:
        engine = create_engine(f"sqlite:///{scratch}/head.db")
        with engine.begin() as conn:
            command.upgrade(_config(conn), "head")
            # Revisions are numbered 0001, 0002, …: their order reads in a directory listing.
            command.revision(_config(conn), message=message, autogenerate=True, rev_id=f"{int(head()) + 1:04d}")
        engine.dispose()
