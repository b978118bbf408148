"""Schema migrations (store/migrate.py), on SQLite and PostgreSQL.

The migrations and the models describe the same schema; a database written by the previous release
(2026-11-28, ``create_all`` and no migrations: tests/fixtures/previous_release.sqlite, made by
tests/fixtures/make_previous_release_db.py with that release's code) is upgraded at start-up and
its verdicts, runs and calibrations are read back through the API, unchanged.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import MetaData, create_engine, func, insert, select, text

from judge_service.app import create_app
from judge_service.store import migrate, schema
from judge_service.store.db import Database, make_engine

FIXTURES = Path(__file__).parent / "fixtures"
PREVIOUS = FIXTURES / "previous_release.sqlite"
IDS = json.loads((FIXTURES / "previous_release.json").read_text())


def schema_difference(url: str) -> list:
    engine = make_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), schema.metadata())
    engine.dispose()
    return diff


def test_migrating_from_nothing_builds_exactly_the_models_schema(db_url):
    engine = make_engine(db_url)
    with engine.begin() as conn:
        command.upgrade(migrate._config(conn), "head")
        assert migrate.current(conn) == migrate.head()
    engine.dispose()
    # A model changed without a migration (or the reverse) shows here, table by table.
    assert schema_difference(db_url) == []


def test_a_new_database_takes_the_create_all_shortcut_and_is_stamped_at_head(db_url):
    db = Database(db_url)
    with db.engine.connect() as conn:
        assert migrate.current(conn) == migrate.head()
    db.close()
    assert schema_difference(db_url) == []


def table_counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    md = MetaData()
    md.reflect(engine)
    with engine.connect() as conn:
        counts = {t.name: conn.scalar(select(func.count()).select_from(t)) for t in md.sorted_tables}
    engine.dispose()
    return counts


def load_previous_release_into(url: str) -> None:
    """The previous release's rows in a database with that release's schema (revision 0001, unversioned)."""
    if url.startswith("sqlite"):
        shutil.copy(PREVIOUS, url.split("///", 1)[1])
        return
    target = create_engine(url)
    with target.begin() as conn:
        command.upgrade(migrate._config(conn), migrate.PREMIGRATION_REVISION)
        conn.execute(text("DROP TABLE alembic_version"))  # that release had no migrations
    source = create_engine(f"sqlite:///{PREVIOUS}")
    old = MetaData()
    old.reflect(source)
    with source.connect() as src, target.begin() as dst:
        for table in old.sorted_tables:
            rows = [dict(r) for r in src.execute(select(table)).mappings()]
            if rows:
                dst.execute(insert(table), rows)
        if target.dialect.name == "postgresql":  # copied ids leave the sequences behind
            dst.execute(text("SELECT setval(pg_get_serial_sequence('run_items', 'pk'), (SELECT max(pk) FROM run_items))"))
            dst.execute(text("SELECT setval(pg_get_serial_sequence('judge_calls', 'id'), (SELECT max(id) FROM judge_calls))"))
    source.dispose()
    target.dispose()


def test_the_previous_release_database_is_upgraded_and_read_back(db_url, make_settings):
    load_previous_release_into(db_url)
    before = table_counts(db_url)
    assert before["judgments"] == 2 and before["run_items"] == 8 and "alembic_version" not in before

    with TestClient(create_app(make_settings(database_url=db_url))) as client:
        judgment = client.get(f"/v1/judgments/{IDS['judgment']}")
        assert judgment.status_code == 200, judgment.text
        assert judgment.json()["rubric"]["name"] == "helpfulness"
        comparison = client.get(f"/v1/comparisons/{IDS['comparison']}")
        assert comparison.status_code == 200, comparison.text
        run = client.get(f"/v1/runs/{IDS['run']}").json()
        assert run["status"] == "done" and run["progress"]["done"] == 8, run
        items = client.get(f"/v1/runs/{IDS['run']}/items").json()
        assert len(items) == 8 and all(i["status"] == "done" for i in items)
        report = client.get(f"/v1/runs/{IDS['run']}/report")
        assert report.status_code == 200, report.text
        assert report.json()["decision"]["outcome"] in {"candidate_beats", "baseline_beats", "no_difference",
                                                        "undetermined", "nothing_to_decide"}
        rating_set = client.get(f"/v1/rating-sets/{IDS['rating_set']}").json()
        assert rating_set["n_items"] == 30, rating_set
        calibration = client.get(f"/v1/calibrations/{IDS['calibration']}").json()
        assert calibration["status"] == "done", calibration
        # The new tables work on the upgraded database: a run takes leases, an eval set is stored.
        created = client.post("/v1/eval-sets", json={"name": "after-upgrade", "items": [
            {"id": "a", "prompt": "p?"}]})
        assert created.status_code == 201, created.text

    after = table_counts(db_url)
    assert all(after[name] >= n for name, n in before.items()), (before, after)  # nothing lost
    engine = make_engine(db_url)
    with engine.connect() as conn:
        assert migrate.current(conn) == migrate.head()
    engine.dispose()
    assert schema_difference(db_url) == []


def test_several_processes_migrating_one_old_database_at_once_agree(db_url):
    import threading

    load_previous_release_into(db_url)
    errors: list[BaseException] = []

    def start() -> None:
        try:
            Database(db_url).close()
        except BaseException as e:  # noqa: BLE001  (reported below)
            errors.append(e)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    engine = make_engine(db_url)
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM alembic_version")) == 1
        assert migrate.current(conn) == migrate.head()
    engine.dispose()


def test_judge_db_status_and_upgrade_on_the_previous_release(tmp_path):
    from typer.testing import CliRunner

    from judge_service.cli import app

    path = tmp_path / "old.db"
    shutil.copy(PREVIOUS, path)
    url = f"sqlite:///{path}"
    runner = CliRunner()
    status = runner.invoke(app, ["db", "status", "--database-url", url])
    assert status.exit_code == 0, status.output
    assert "revision none" in status.output and "needs `judge db upgrade`" in status.output
    upgraded = runner.invoke(app, ["db", "upgrade", "--database-url", url])
    assert upgraded.exit_code == 0, upgraded.output
    assert f"upgraded from none to {migrate.head()}" in upgraded.output
    again = runner.invoke(app, ["db", "status", "--database-url", url])
    assert "up to date" in again.output, again.output
    assert table_counts(url)["judgments"] == 2


def test_judge_db_refuses_bad_urls_and_status_creates_nothing(tmp_path):
    from typer.testing import CliRunner

    from judge_service.cli import app

    runner = CliRunner()
    bad = runner.invoke(app, ["db", "status", "--database-url", "nonsense"])
    assert bad.exit_code == 2 and "is not a database URL" in bad.output
    missing = tmp_path / "nowhere" / "judge.db"
    absent = runner.invoke(app, ["db", "status", "--database-url", f"sqlite:///{missing}"])
    assert absent.exit_code == 2 and "no database at" in absent.output
    assert not missing.parent.exists()  # reading the revision made no folder and no file
    new = runner.invoke(app, ["db", "upgrade", "--database-url", f"sqlite:///{missing}"])
    assert new.exit_code == 0 and f"upgraded from none to {migrate.head()}" in new.output, new.output
