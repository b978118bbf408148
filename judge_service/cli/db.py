"""``judge db``: the schema revision of the service's database, and upgrading it ahead of a deploy.

The service upgrades its database itself at start-up (store/migrate.py), so nothing here is needed
for a single instance. With several replicas, ``judge db upgrade`` once before rolling them out
keeps the old ones from meeting tables they do not know mid-way.
"""

from __future__ import annotations

from pathlib import Path

import typer

db_app = typer.Typer(help="The database's schema: its revision, and upgrading it.", no_args_is_help=True)

_DATA_DIR = typer.Option(None, "--data-dir", help="the service's data dir (default: JUDGE_DATA_DIR or ~/.judge-service)")
_DB_URL = typer.Option(None, "--database-url", help="the service's database URL (default: JUDGE_DATABASE_URL or SQLite in the data dir)")


def _url(data_dir: Path | None, database_url: str | None) -> str:
    from judge_service.settings import Settings

    settings = Settings()
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir})
    if database_url is not None:
        settings = settings.model_copy(update={"database_url": database_url})
    return settings.resolved_database_url()


def _revisions(url: str) -> tuple[str | None, str]:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from judge_service.cli.common import fail
    from judge_service.store import migrate

    try:
        parsed = make_url(url)
    except ArgumentError:
        fail(f"--database-url {url!r} is not a database URL; e.g. sqlite:////path/judge.db or "
             "postgresql+psycopg://user@host:5432/judge")
        raise  # fail() exits; for the type checker
    if parsed.get_backend_name() == "sqlite" and parsed.database and not Path(parsed.database).exists():
        fail(f"no database at {parsed.database}; check --data-dir / --database-url (nothing was created)")
    engine = create_engine(parsed)  # not store.db.make_engine: reading the revision must create nothing
    try:
        with engine.connect() as conn:
            return migrate.current(conn), migrate.head()
    except SQLAlchemyError as e:
        fail(f"cannot read the database at {parsed.render_as_string(hide_password=True)}: {type(e).__name__}: "
             f"{str(e).splitlines()[0]}")
        raise
    finally:
        engine.dispose()


def _sqlite_exists(url: str) -> bool:
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    return not database or Path(database).exists()


@db_app.command()
def status(data_dir: Path | None = _DATA_DIR, database_url: str | None = _DB_URL) -> None:
    """Print the database's schema revision and the one this version of judge-service expects."""
    current, head = _revisions(_url(data_dir, database_url))
    state = "up to date" if current == head else "needs `judge db upgrade` (the service also does it at start-up)"
    typer.echo(f"revision {current or 'none (new, or made before migrations)'}; expected {head}: {state}")


@db_app.command()
def upgrade(data_dir: Path | None = _DATA_DIR, database_url: str | None = _DB_URL) -> None:
    """Upgrade the database to this version's schema; rows are kept."""
    from judge_service.store.db import Database

    url = _url(data_dir, database_url)
    before, _ = _revisions(url) if not url.startswith("sqlite") or _sqlite_exists(url) else (None, "")
    Database(url).close()
    after, _ = _revisions(url)
    typer.echo(f"upgraded from {before or 'none'} to {after}" if before != after else f"already at {after}")
