"""``judge keys``: create, list and revoke the service's API keys, directly on its database.

Run it where the service's settings are (the same ``JUDGE_DATA_DIR`` / ``JUDGE_DATABASE_URL``);
no running service is needed. A created key is printed once and never stored: copy it then.
Keys only matter when the service runs with ``JUDGE_AUTH_ENABLED=true``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TypedDict

import typer

from judge_service.errors import ServiceError
from judge_service.security.keys import SCOPES, KeyStore

keys_app = typer.Typer(help="API keys for the service (used when JUDGE_AUTH_ENABLED=true).", no_args_is_help=True)

_DATA_DIR = typer.Option(None, "--data-dir", help="the service's data dir (default: JUDGE_DATA_DIR or ~/.judge-service)")
_DB_URL = typer.Option(None, "--database-url", help="the service's database URL (default: JUDGE_DATABASE_URL or SQLite in the data dir)")


class _SettingsOverrides(TypedDict, total=False):
    data_dir: Path
    database_url: str


def _store(data_dir: Path | None, database_url: str | None) -> KeyStore:
    from judge_service.settings import Settings
    from judge_service.store.db import Database

    overrides: _SettingsOverrides = {}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if database_url is not None:
        overrides["database_url"] = database_url
    settings = Settings(**overrides)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return KeyStore(Database(settings.resolved_database_url()))


def _fail(e: ServiceError) -> None:
    typer.echo(f"error: {e.message}", err=True)
    raise typer.Exit(1)


@keys_app.command()
def create(
    name: str = typer.Option(..., "--name", help="who or what uses the key, e.g. 'ci' or 'alice'"),
    scope: str = typer.Option("read", "--scope", help=f"one of {', '.join(SCOPES)}: read = GET only; write = may also create judgments and runs"),
    data_dir: Path | None = _DATA_DIR,
    database_url: str | None = _DB_URL,
) -> None:
    """Create a key and print it ONCE (only its hash is stored)."""
    try:
        created = _store(data_dir, database_url).create(name, scope)
    except ServiceError as e:
        _fail(e)
        return
    typer.echo(f"created {created.info.id} (name={created.info.name}, scope={created.info.scope})", err=True)
    typer.echo("copy this key now; it is not stored and cannot be shown again:", err=True)
    typer.echo(created.key)  # alone on stdout, so `KEY=$(judge keys create ...)` works


@keys_app.command("list")
def list_keys(data_dir: Path | None = _DATA_DIR, database_url: str | None = _DB_URL) -> None:
    """List keys: id, name, scope, the key's first characters, when created, last used and revoked."""
    keys = _store(data_dir, database_url).list()
    if not keys:
        typer.echo("no API keys; create one with: judge keys create --scope read --name NAME")
        return
    typer.echo(f"{'id':<22} {'name':<20} {'scope':<6} {'prefix':<12} {'created':<20} {'last used':<20} revoked")
    def when(t: datetime | None) -> str:
        return t.strftime("%Y-%m-%d %H:%M:%S") if t else "-"

    for k in keys:
        typer.echo(f"{k.id:<22} {k.name[:20]:<20} {k.scope:<6} {k.prefix + '…':<12} {when(k.created_at):<20} "
                   f"{when(k.last_used_at):<20} {when(k.revoked_at)}")


@keys_app.command()
def revoke(
    key_id: str = typer.Argument(..., help="the key's id (key_...) from `judge keys list`, or its shown prefix"),
    data_dir: Path | None = _DATA_DIR,
    database_url: str | None = _DB_URL,
) -> None:
    """Revoke a key; requests with it are refused (401) from the next request on."""
    try:
        info = _store(data_dir, database_url).revoke(key_id)
    except ServiceError as e:
        _fail(e)
        return
    typer.echo(f"revoked {info.id} (name={info.name}, scope={info.scope})")
