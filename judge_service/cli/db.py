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
    from judge_service.store import migrate
    from judge_service.store.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return migrate.current(conn), migrate.head()
    finally:
        engine.dispose()


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
    before, _ = _revisions(url)
    Database(url).close()
    after, _ = _revisions(url)
    typer.echo(f"upgraded from {before or 'none'} to {after}" if before != after else f"already at {after}")
